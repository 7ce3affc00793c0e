/**
 * The write hot path: seal the version and store it with ONE insert statement. The insert is
 * guarded so that version `n` is only written when version `n - 1` exists; with the unique
 * (type, id, version) key that makes `n - 1` the latest, which is exactly `If-Match`.
 *
 * The same statement takes the record anchor kind's advisory lock in SHARED mode before `seq` is
 * drawn, and holds it to the end of the writing transaction. Writers never wait for each other,
 * but the batch builder (EXCLUSIVE, {@link buildAnchorBatch}) waits until every transaction that
 * has drawn a `seq` has committed or rolled back. Without it a transaction that drew seq 20 and
 * committed after the one that drew 21 leaves 20 out of the batch that holds 21, and the batches
 * are no longer contiguous runs of `seq` (found by the PostgreSQL restart fault test).
 */
import type { Hex } from 'viem';
import type { KeyEncryptionKey } from '../crypto/KeyEncryptionKey.ts';
import { sealRecord } from '../crypto/sealRecord.ts';
import type { Queryable } from '../store/db.ts';
import { statement } from '../store/statement.ts';
import { RECORD_BATCH_LOCK } from './buildAnchorBatch.ts';
import { VersionConflictError } from './errors.ts';
import type { FhirResource, WriteResult } from './types.ts';

export interface WriteRecordVersionParameters {
  resourceType: string;
  id: string;
  versionId: number;
  /** The resource as the client sent it (id and meta are overwritten); ignored when `deleted`. */
  resource: FhirResource | undefined;
  deleted: boolean;
  lastUpdated: Date;
  kek: KeyEncryptionKey;
}

/** The shared lock, as a CTE the insert reads FROM: the row cannot be built (nor seq drawn) first. */
const ORDERED = `WITH ordered AS MATERIALIZED (
  SELECT pg_advisory_xact_lock_shared(${RECORD_BATCH_LOCK.lockClass}, ${RECORD_BATCH_LOCK.key}))`;

/** Version 1 needs no guard: a plain insert (the unique key still rejects a duplicate), no RETURNING. */
const INSERT_FIRST = statement(`${ORDERED}
INSERT INTO record_versions (resource_type, resource_id, version_id, deleted, last_updated, ciphertext,
  wrapped_key, kek_id, content_commitment, leaf)
SELECT $1, $2, $3, $4, $5::timestamptz, $6, $7, $8, $9, $10 FROM ordered`);

const INSERT_NEXT = statement(`${ORDERED}
INSERT INTO record_versions (resource_type, resource_id, version_id, deleted, last_updated, ciphertext,
  wrapped_key, kek_id, content_commitment, leaf)
SELECT $1, $2, $3, $4, $5::timestamptz, $6, $7, $8, $9, $10 FROM ordered
WHERE $3 = 1 OR EXISTS (
  SELECT 1 FROM record_versions WHERE resource_type = $1 AND resource_id = $2 AND version_id = $3 - 1)
RETURNING version_id`);

export async function writeRecordVersion(
  q: Queryable,
  p: WriteRecordVersionParameters,
): Promise<WriteResult> {
  const lastUpdated = p.lastUpdated.toISOString();
  const meta = { ...(p.deleted ? {} : p.resource?.meta), versionId: String(p.versionId), lastUpdated };
  const stored: WriteResult['resource'] = p.deleted
    ? { resourceType: p.resourceType, id: p.id, meta }
    : { ...p.resource, resourceType: p.resourceType, id: p.id, meta };
  const sealed = await sealRecord(
    { resourceType: p.resourceType, id: p.id, versionId: p.versionId, deleted: p.deleted },
    stored,
    p.kek,
  );
  const first = p.versionId === 1;
  let rows: unknown[];
  try {
    rows = await q.query(first ? INSERT_FIRST : INSERT_NEXT, [
      p.resourceType,
      p.id,
      p.versionId,
      p.deleted,
      lastUpdated,
      Buffer.concat([sealed.iv, sealed.ciphertext]),
      sealed.wrappedKey,
      sealed.kekId,
      sealed.contentCommitment,
      sealed.leaf,
    ]);
  } catch (error) {
    if (isUniqueViolation(error)) throw new VersionConflictError();
    throw error;
  }
  if (!first && rows.length === 0) throw new VersionConflictError();
  return {
    resource: stored,
    versionId: p.versionId,
    lastUpdated,
    deleted: p.deleted,
    leaf: `0x${sealed.leaf.toString('hex')}` as Hex,
  };
}

export function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: unknown }).code === '23505';
}
