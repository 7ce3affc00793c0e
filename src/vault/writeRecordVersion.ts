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
import type { Queryable, SqlParam } from '../store/db.ts';
import { PackedBytes } from '../store/packedBytes.ts';
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

/**
 * Many version-1 rows in one statement (bulk import, {@link bufferFirstVersions}): row `n` has
 * `$1[n]`..`$4[n]`, `$8[n]`, and its ciphertext, wrapped key, commitment and leaf cut out of the
 * one bytea `$5` at offset `$6[n]` (ciphertext `$7[n]` bytes, wrapped key `$9[n]` bytes, then
 * 32 + 32). Rows draw `seq` in the order given.
 */
const INSERT_FIRST_MANY = statement(`${ORDERED}
INSERT INTO record_versions (resource_type, resource_id, version_id, deleted, last_updated, ciphertext,
  wrapped_key, kek_id, content_commitment, leaf)
SELECT u.t, u.id, 1, u.del, u.at::timestamptz,
  substring($5::bytea FROM u.off + 1 FOR u.ct),
  substring($5::bytea FROM u.off + u.ct + 1 FOR u.wk),
  u.kek,
  substring($5::bytea FROM u.off + u.ct + u.wk + 1 FOR 32),
  substring($5::bytea FROM u.off + u.ct + u.wk + 33 FOR 32)
FROM ordered, unnest($1::text[], $2::text[], $3::boolean[], $4::text[], $6::int[], $7::int[], $8::text[], $9::int[])
  WITH ORDINALITY AS u(t, id, del, at, off, ct, kek, wk, n)
ORDER BY u.n`);

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

/** A transaction whose version-1 inserts are held back and written many rows per statement. */
export interface BufferedWrites extends Queryable {
  /** Writes what is held back (also done before any other statement runs). */
  flush(): Promise<void>;
}

/**
 * Bulk import: wraps the import's transaction so that version-1 inserts (the bulk of an import,
 * one statement and round trip each) are held back and written together, in one statement, just
 * before the next statement of any other kind runs on the transaction, and at {@link flush}. A
 * read, search, update or delete in the same transaction therefore sees every earlier write,
 * exactly as without the buffer, and the transaction commits only after the flush succeeded.
 * What changes: a duplicate id is reported by the flush (as VersionConflictError) rather than by
 * the create that caused it, which fails the same transaction either way.
 */
export function bufferFirstVersions(q: Queryable): BufferedWrites {
  let held: (readonly SqlParam[])[] = [];
  const flush = async () => {
    if (held.length === 0) return;
    const rows = held;
    held = [];
    try {
      await q.query(INSERT_FIRST_MANY, manyParams(rows));
    } catch (error) {
      if (isUniqueViolation(error)) throw new VersionConflictError();
      throw error;
    }
  };
  return {
    async query(sql, params) {
      if (sql === INSERT_FIRST && params?.[2] === 1) {
        held.push(params);
        return [];
      }
      await flush();
      return q.query(sql, params);
    },
    flush,
  };
}

/** The parameters of {@link INSERT_FIRST_MANY} from rows of {@link INSERT_FIRST} parameters. */
function manyParams(rows: readonly (readonly SqlParam[])[]): SqlParam[] {
  const types: string[] = [];
  const ids: string[] = [];
  const deleted: string[] = [];
  const at: string[] = [];
  const ctLengths: number[] = [];
  const keks: string[] = [];
  const wkLengths: number[] = [];
  const packed = new PackedBytes();
  for (const [type, id, , del, lastUpdated, ciphertext, wrappedKey, kekId, commitment, leaf] of rows) {
    const ct = ciphertext as Uint8Array;
    const wk = wrappedKey as Uint8Array;
    if ((commitment as Uint8Array).length !== 32 || (leaf as Uint8Array).length !== 32)
      throw new RangeError('a commitment and a leaf are 32 bytes');
    types.push(type as string);
    ids.push(id as string);
    deleted.push(del === true ? 'true' : 'false');
    at.push(lastUpdated as string);
    keks.push(kekId as string);
    ctLengths.push(ct.length);
    wkLengths.push(wk.length);
    packed.add(ct, wk, commitment as Uint8Array, leaf as Uint8Array);
  }
  return [types, ids, deleted, at, packed.bytes(), packed.offsets, ctLengths, keks, wkLengths];
}
