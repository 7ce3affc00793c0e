/** The human summary of a verify run (stderr), and a progress bar for terminals. */
import type { StandaloneReportResult } from './standaloneReportCheck.ts';
import type { VerifyReport } from './VerifyReport.ts';

export function formatVerifyReport(report: VerifyReport): string {
  const { records, audit } = report.counts;
  const lines = [
    `medledger verify: ${report.ok ? 'ALL HOLDS' : `${report.findings.length + report.moreFindings} FINDING(S)`} (${(report.durationMs / 1000).toFixed(1)} s, ${report.withKeys ? 'with keys: content checked' : 'without keys: ciphertext side only'})`,
    `  record versions: ${records.rows} (${records.anchored} anchored, ${records.pending} pending, ${records.erased} erased, ${records.contentChecked} decrypted); batches ${records.localBatches} local / ${records.chainBatches} on chain`,
    `  audit events:    ${audit.rows} (${audit.anchored} anchored, ${audit.pending} pending, ${audit.contentChecked} decrypted); batches ${audit.localBatches} local / ${audit.chainBatches} on chain`,
    '  checked:',
    ...report.checks.map((c) => `    - ${c}`),
  ];
  if (report.findings.length > 0) lines.push('  findings:');
  for (const f of report.findings) {
    const where = [
      f.kind,
      f.row,
      f.seq === undefined ? undefined : `seq ${f.seq}`,
      f.batch === undefined ? undefined : `batch ${f.batch}`,
    ]
      .filter((x) => x !== undefined)
      .join(', ');
    lines.push(`    ✗ ${f.check} [${where}]: ${f.detail}`);
  }
  if (report.moreFindings > 0) lines.push(`    ... and ${report.moreFindings} more (see --json)`);
  return lines.join('\n');
}

export function formatBundleResult(file: string, result: StandaloneReportResult): string {
  const lines = [
    `medledger verify --bundle ${file}: ${result.ok ? 'ALL HOLDS' : `${result.failed} FAILED`} (chain ${result.chainId}): ${result.verified} verified, ${result.pending} pending, ${result.failed} failed`,
  ];
  for (const entry of result.entries) {
    if (entry.status === 'failed') lines.push(`    ✗ ${entry.event}: ${entry.problems.join('; ')}`);
  }
  return lines.join('\n');
}

/** Draws `kind done/total` as a bar on a TTY; returns a function that clears it. */
export function progressBar(stream: NodeJS.WriteStream): {
  update(label: string, done: number, total: number): void;
  done(): void;
} {
  let last = 0;
  return {
    update(label, done, total) {
      const now = Date.now();
      if (!stream.isTTY || (now - last < 100 && done < total)) return;
      last = now;
      const width = 30;
      const filled = total > 0 ? Math.round((done / total) * width) : width;
      stream.write(
        `\r  ${label.padEnd(8)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`,
      );
    },
    done() {
      if (stream.isTTY) stream.write('\r\x1b[K');
    },
  };
}
