/**
 * Storage of bulk export jobs and their files. Everything that could identify a patient is
 * sealed with the node's envelope encryption (src/crypto/envelope.ts): the job's request (it may
 * name a patient or a group, and carries the principal the job runs as) and every NDJSON file.
 * A file's SHA-256 is of its plaintext bytes, exactly as downloaded.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from '../../access/Principal.ts';
import { parseScopes } from '../../access/scopes.ts';
import { GCM_IV_BYTES } from '../../crypto/aesGcm.ts';
import { DecryptionError } from '../../crypto/DecryptionError.ts';
import { openEnvelope, sealEnvelope } from '../../crypto/envelope.ts';
import type { Keyring } from '../../crypto/KeyEncryptionKey.ts';
import type { Queryable } from '../../store/db.ts';
import { BulkExportError } from './BulkExportError.ts';
import type { ExportParameters } from './exportParameters.ts';

export type ExportJobStatus = 'in-progress' | 'completed' | 'failed' | 'cancelled';

/** What a job runs: the checked parameters, the kick-off URL and who asked (sealed at rest). */
export interface ExportRequest {
  parameters: ExportParameters;
  /** The kick-off URL as received (the manifest's `request`). */
  requestUrl: string;
  principal: Omit<Principal, 'scopes'>;
  purpose: string;
  breakGlassReason?: string;
}

export interface ExportJob {
  id: string;
  ownerHash: Buffer;
  status: ExportJobStatus;
  progress: string | null;
  error: string | null;
  transactionTime: string;
  /** `AuditEvent/{id}` anchoring the file hashes, once completed. */
  auditEvent: string | null;
  /** When it completed, failed or was cancelled (ISO 8601); null while in progress. */
  completedAt: string | null;
  request: ExportRequest;
}

export interface ExportFileInfo {
  name: string;
  kind: 'output' | 'error';
  resourceType: string;
  count: number;
  sha256: string;
}

export function newJobId(): string {
  return randomBytes(16).toString('hex');
}

/** Who may poll, download and cancel: the same client acting for the same subject. */
export function ownerHash(principal: Pick<Principal, 'clientId' | 'subject'>): Buffer {
  return createHash('sha256')
    .update(`medledger.bulk-owner.v1\n${principal.clientId}\n${principal.subject}`)
    .digest();
}

export function principalOf(request: ExportRequest): Principal {
  return { ...request.principal, scopes: parseScopes(request.principal.scope) };
}

export const jobAad = (id: string) => ({
  content: Buffer.from(`medledger.bulk-job.v1\n${id}`),
  dataKey: Buffer.from(`medledger.bulk-job-dek.v1\n${id}`),
});
export const fileAad = (jobId: string, name: string) => ({
  content: Buffer.from(`medledger.bulk-file.v1\n${jobId}\n${name}`),
  dataKey: Buffer.from(`medledger.bulk-file-dek.v1\n${jobId}\n${name}`),
});

export async function createExportJob(
  q: Queryable,
  keyring: Keyring,
  job: { id: string; owner: Buffer; request: ExportRequest; transactionTime: string },
): Promise<void> {
  const { scopes: _scopes, ...principal } = job.request.principal as Principal;
  const request: ExportRequest = { ...job.request, principal };
  const sealed = await sealEnvelope(Buffer.from(JSON.stringify(request)), jobAad(job.id), keyring.current());
  await q.query(
    `INSERT INTO bulk_export_jobs (id, owner_hash, status, progress, ciphertext, wrapped_key, kek_id, transaction_time)
     VALUES ($1, $2, 'in-progress', 'queued', $3, $4, $5, $6)`,
    [
      job.id,
      job.owner,
      Buffer.concat([sealed.iv, sealed.ciphertext]),
      sealed.wrappedKey,
      sealed.kekId,
      job.transactionTime,
    ],
  );
}

interface JobRow {
  id: string;
  owner_hash: Uint8Array;
  status: ExportJobStatus;
  progress: string | null;
  error: string | null;
  ciphertext: Uint8Array;
  wrapped_key: Uint8Array;
  kek_id: string;
  transaction_time: Date | string;
  audit_event: string | null;
  completed_at: Date | string | null;
}

export async function readExportJob(q: Queryable, keyring: Keyring, id: string): Promise<ExportJob> {
  if (!/^[0-9a-f]{32}$/.test(id)) throw new BulkExportError('ERR_BULK_NOT_FOUND', 'No such export job');
  const [row] = await q.query<JobRow>('SELECT * FROM bulk_export_jobs WHERE id = $1', [id]);
  if (!row) throw new BulkExportError('ERR_BULK_NOT_FOUND', 'No such export job');
  const plain = await open(keyring, row, jobAad(id));
  return {
    id,
    ownerHash: Buffer.from(row.owner_hash),
    status: row.status,
    progress: row.progress,
    error: row.error,
    transactionTime: new Date(row.transaction_time).toISOString(),
    auditEvent: row.audit_event,
    completedAt: row.completed_at === null ? null : new Date(row.completed_at).toISOString(),
    request: JSON.parse(plain.toString('utf8')) as ExportRequest,
  };
}

export async function updateExportJob(
  q: Queryable,
  id: string,
  change: { status?: ExportJobStatus; progress?: string; error?: string; auditEvent?: string },
): Promise<void> {
  await q.query(
    `UPDATE bulk_export_jobs SET status = COALESCE($2, status), progress = COALESCE($3, progress),
       error = COALESCE($4, error), audit_event = COALESCE($5, audit_event),
       completed_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN now() ELSE completed_at END
     WHERE id = $1 AND status = 'in-progress'`,
    [id, change.status ?? null, change.progress ?? null, change.error ?? null, change.auditEvent ?? null],
  );
}

export async function deleteExportJob(q: Queryable, id: string): Promise<void> {
  await q.query('DELETE FROM bulk_export_jobs WHERE id = $1', [id]);
}

/**
 * Deletes, with their files, the jobs that finished more than `retentionSeconds` ago (FHIR Bulk
 * Data: results are available until the status response's `Expires`). Returns how many.
 */
export async function deleteExpiredExportJobs(q: Queryable, retentionSeconds: number): Promise<number> {
  const rows = await q.query(
    `DELETE FROM bulk_export_jobs
     WHERE status <> 'in-progress' AND completed_at < now() - make_interval(secs => $1::double precision)
     RETURNING id`,
    [retentionSeconds],
  );
  return rows.length;
}

/** Jobs a stopped node left running fail clearly (the requester starts a new export). */
export async function failInterruptedExportJobs(q: Queryable): Promise<number> {
  const rows = await q.query(
    `UPDATE bulk_export_jobs SET status = 'failed', completed_at = now(),
       error = 'the export was interrupted by a node restart; start a new export'
     WHERE status = 'in-progress' RETURNING id`,
  );
  return rows.length;
}

export async function saveExportFile(
  q: Queryable,
  keyring: Keyring,
  jobId: string,
  file: Omit<ExportFileInfo, 'sha256'> & { bytes: Buffer },
): Promise<ExportFileInfo> {
  const sha256 = createHash('sha256').update(file.bytes).digest();
  const sealed = await sealEnvelope(file.bytes, fileAad(jobId, file.name), keyring.current());
  await q.query(
    `INSERT INTO bulk_export_files (job_id, name, kind, resource_type, count, sha256, ciphertext, wrapped_key, kek_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      jobId,
      file.name,
      file.kind,
      file.resourceType,
      file.count,
      sha256,
      Buffer.concat([sealed.iv, sealed.ciphertext]),
      sealed.wrappedKey,
      sealed.kekId,
    ],
  );
  const { bytes: _bytes, ...info } = file;
  return { ...info, sha256: sha256.toString('hex') };
}

export async function listExportFiles(q: Queryable, jobId: string): Promise<ExportFileInfo[]> {
  const rows = await q.query<{
    name: string;
    kind: 'output' | 'error';
    resource_type: string;
    count: number;
    sha256: Uint8Array;
  }>(
    'SELECT name, kind, resource_type, count, sha256 FROM bulk_export_files WHERE job_id = $1 ORDER BY seq',
    [jobId],
  );
  return rows.map((r) => ({
    name: r.name,
    kind: r.kind,
    resourceType: r.resource_type,
    count: r.count,
    sha256: Buffer.from(r.sha256).toString('hex'),
  }));
}

/** A file's NDJSON bytes, decrypted. */
export async function readExportFile(
  q: Queryable,
  keyring: Keyring,
  jobId: string,
  name: string,
): Promise<Buffer> {
  const [row] = await q.query<{ ciphertext: Uint8Array; wrapped_key: Uint8Array; kek_id: string }>(
    'SELECT ciphertext, wrapped_key, kek_id FROM bulk_export_files WHERE job_id = $1 AND name = $2',
    [jobId, name],
  );
  if (!row) throw new BulkExportError('ERR_BULK_NOT_FOUND', 'No such export file');
  return open(keyring, row, fileAad(jobId, name));
}

async function open(
  keyring: Keyring,
  row: { ciphertext: Uint8Array; wrapped_key: Uint8Array; kek_id: string },
  aad: { content: Uint8Array; dataKey: Uint8Array },
): Promise<Buffer> {
  const kek = await keyring.get(row.kek_id);
  if (!kek) throw new DecryptionError();
  const stored = Buffer.from(row.ciphertext);
  const opened = await openEnvelope(
    {
      iv: stored.subarray(0, GCM_IV_BYTES),
      ciphertext: stored.subarray(GCM_IV_BYTES),
      wrappedKey: row.wrapped_key,
    },
    aad,
    kek,
  );
  return Buffer.from(opened.canonicalJson);
}
