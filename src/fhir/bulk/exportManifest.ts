/**
 * The Bulk Data complete-status manifest of a finished job. Besides the standard fields it
 * carries, as extensions, each file's SHA-256 and the AuditEvent that anchors them all
 * (docs/export.md: how a recipient checks the files against the chain).
 * @see https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status
 */
import type { ExportFileInfo, ExportJob } from './exportJobs.ts';

export const SHA256_EXTENSION = 'https://medledger.dev/fhir/bulk/sha256';
export const AUDIT_EVENT_EXTENSION = 'https://medledger.dev/fhir/bulk/audit-event';

export interface ManifestFile {
  type: string;
  url: string;
  count: number;
  extension: { [SHA256_EXTENSION]: string };
}

export interface ExportManifest {
  transactionTime: string;
  request: string;
  requiresAccessToken: true;
  output: ManifestFile[];
  error: ManifestFile[];
  extension: { [AUDIT_EVENT_EXTENSION]: string };
}

export function exportFileUrl(baseUrl: string, jobId: string, name: string): string {
  return `${baseUrl}/$export-file/${jobId}/${name}`;
}

export function exportManifest(
  baseUrl: string,
  job: ExportJob,
  files: readonly ExportFileInfo[],
): ExportManifest {
  const item = (f: ExportFileInfo): ManifestFile => ({
    type: f.resourceType,
    url: exportFileUrl(baseUrl, job.id, f.name),
    count: f.count,
    extension: { [SHA256_EXTENSION]: f.sha256 },
  });
  return {
    transactionTime: job.transactionTime,
    request: job.request.requestUrl,
    requiresAccessToken: true,
    output: files.filter((f) => f.kind === 'output').map(item),
    error: files.filter((f) => f.kind === 'error').map(item),
    extension: { [AUDIT_EVENT_EXTENSION]: `${baseUrl}/${job.auditEvent ?? ''}` },
  };
}
