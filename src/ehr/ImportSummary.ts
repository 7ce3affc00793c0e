/**
 * What an import reports: counts of created, updated, unchanged and failed resources, in total
 * and per resource type, each failure with its file and entry or line, and the claim codes of
 * patients whose chain address was generated (shown once, never stored in clear).
 */
export type ImportStatus = 'created' | 'updated' | 'unchanged' | 'failed';

export interface ImportCounts {
  created: number;
  updated: number;
  unchanged: number;
  failed: number;
}

export interface ImportFailure {
  file: string;
  /** Bundle entry index (0-based), for Bundles and single resources. */
  entry?: number;
  /** Line number (1-based), for NDJSON files. */
  line?: number;
  resourceType: string;
  reason: string;
}

export interface PatientClaim {
  patient: string;
  /** The generated chain address the record carries until the patient claims it. */
  address: string;
  /** One-time code the patient uses to bind their own key (`POST /fhir/Patient/{id}/$claim`). */
  claimCode: string;
}

export interface ImportSummary extends ImportCounts {
  files: number;
  resources: number;
  byType: Record<string, ImportCounts>;
  failures: ImportFailure[];
  claims: PatientClaim[];
  seconds: number;
  resourcesPerSec: number;
}

export function emptySummary(): ImportSummary {
  return {
    files: 0,
    resources: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    failed: 0,
    byType: {},
    failures: [],
    claims: [],
    seconds: 0,
    resourcesPerSec: 0,
  };
}

export function count(summary: ImportSummary, resourceType: string, status: ImportStatus): void {
  summary.resources++;
  summary[status]++;
  const byType = summary.byType[resourceType] ?? { created: 0, updated: 0, unchanged: 0, failed: 0 };
  summary.byType[resourceType] = byType;
  byType[status]++;
}

/** The summary for people (stderr). */
export function formatImportSummary(summary: ImportSummary): string {
  const lines = [
    `imported ${summary.resources} resources from ${summary.files} files in ${summary.seconds.toFixed(1)} s ` +
      `(${Math.round(summary.resourcesPerSec)} resources/s)`,
    `  created ${summary.created}, updated ${summary.updated}, unchanged ${summary.unchanged}, failed ${summary.failed}`,
    '',
    `  ${'type'.padEnd(28)} ${'created'.padStart(8)} ${'updated'.padStart(8)} ${'unchanged'.padStart(10)} ${'failed'.padStart(7)}`,
  ];
  for (const [type, c] of Object.entries(summary.byType).sort(([a], [b]) => (a < b ? -1 : 1))) {
    lines.push(
      `  ${type.padEnd(28)} ${String(c.created).padStart(8)} ${String(c.updated).padStart(8)} ${String(c.unchanged).padStart(10)} ${String(c.failed).padStart(7)}`,
    );
  }
  if (summary.failures.length > 0) {
    lines.push('', 'failures:');
    for (const f of summary.failures.slice(0, 50)) {
      const where = f.line !== undefined ? `line ${f.line}` : `entry ${f.entry ?? 0}`;
      lines.push(`  ${f.file} ${where} (${f.resourceType}): ${f.reason}`);
    }
    if (summary.failures.length > 50)
      lines.push(`  ... and ${summary.failures.length - 50} more (see --json)`);
  }
  if (summary.claims.length > 0) {
    lines.push(
      '',
      'claim codes (shown once; give each patient theirs, see docs/import.md):',
      ...summary.claims.map((c) => `  ${c.patient.padEnd(50)} ${c.claimCode}`),
    );
  }
  return lines.join('\n');
}
