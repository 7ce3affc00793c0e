/**
 * Erasure by crypto-shredding: the wrapped data keys of every version are destroyed, so neither
 * the content nor its salt can be recovered. Leaves, proofs, commitments and ciphertext hashes stay,
 * so the anchored batches still verify; without the salt the commitment says nothing about content.
 * (PostgreSQL keeps old row versions until VACUUM; run VACUUM on record_versions to purge them.)
 */
import type { Db } from '../store/db.ts';
import { NotFoundError } from './errors.ts';

export interface EraseRecordParameters {
  resourceType: string;
  id: string;
  /** Who ordered the erasure (user or process), kept in `record_erasures`. */
  erasedBy: string;
  reason?: string | undefined;
}

export interface EraseRecordResult {
  /** Versions whose keys this call destroyed (empty when already erased). */
  versionIds: number[];
}

export async function eraseRecord(db: Db, p: EraseRecordParameters): Promise<EraseRecordResult> {
  return db.transaction(async (tx) => {
    const exists = await tx.query(
      'SELECT 1 FROM record_versions WHERE resource_type = $1 AND resource_id = $2 LIMIT 1',
      [p.resourceType, p.id],
    );
    if (exists.length === 0) throw new NotFoundError(`${p.resourceType}/${p.id} not found`);
    const rows = await tx.query<{ version_id: number }>(
      `UPDATE record_versions SET wrapped_key = NULL, erased_at = now()
       WHERE resource_type = $1 AND resource_id = $2 AND erased_at IS NULL
       RETURNING version_id`,
      [p.resourceType, p.id],
    );
    const versionIds = rows.map((r) => r.version_id).sort((a, b) => a - b);
    if (versionIds.length > 0) {
      await tx.query(
        `INSERT INTO record_erasures (resource_type, resource_id, version_ids, erased_by, reason)
         VALUES ($1, $2, $3::int[], $4, $5)`,
        [p.resourceType, p.id, versionIds, p.erasedBy, p.reason ?? null],
      );
    }
    return { versionIds };
  });
}
