/**
 * The one door to stored record versions. Every path that serves, lists, counts, exports or
 * discloses a version reads it here: this is the only code outside the vault's own writes that
 * selects from `record_versions` (the independent auditor in `src/verify/` keeps its own SQL on
 * purpose). Every version whose content it returns is verified first — decryption, content
 * commitment, leaf, identity, Merkle proof, and the batch root against the root anchored on
 * chain — and a failure raises {@link IntegrityError} after recording an alert for the operator.
 *
 * A reader is bound to one {@link Queryable}: the database, or an open transaction (a FHIR
 * transaction Bundle reads what it wrote; PGlite's single connection blocks the database handle
 * while a transaction is open). `vault.reader(q)` makes one.
 */

import type { RootSource } from '../chain/RootSource.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Queryable } from '../store/db.ts';
import { joinProofs, PROOF_COLUMNS } from './anchorKinds.ts';
import { GoneError, IntegrityError, NotFoundError } from './errors.ts';
import {
  SELECT_CURRENT,
  SELECT_CURRENT_MANY,
  SELECT_HISTORY,
  SELECT_ONE_VERSION,
  type StoredVersionRow,
} from './storedVersionRow.ts';
import type { FhirResource, HistoryEntry, RecordVersion } from './types.ts';
import { RecordCheckFailure, type VerifiedVersion, verifyRecordVersion } from './verifyRecordVersion.ts';

/** A version's place in the log, without its content (lists, exports, sync). */
export interface VersionRef {
  resourceType: string;
  id: string;
  versionId: number;
  deleted: boolean;
  erased: boolean;
  lastUpdated: string;
  /** Write order across all resources (newest is highest). */
  seq: string;
}

export interface VersionFilter {
  resourceType?: string | undefined;
  /** Only versions written at or after this instant. */
  since?: string | undefined;
  /** Only versions written at or before this instant. */
  until?: string | undefined;
  /** Only versions older than this write position (paging newest first). */
  beforeSeq?: string | undefined;
  limit: number;
}

/** A verified version with what a recipient needs to recompute its leaf (exchange disclosure). */
export interface DisclosedVersion extends RecordVersion {
  salt: Buffer;
  ciphertextHash: Buffer;
}

/** A version's leaf and batch position: what a proof of it is built from (erased versions too). */
export interface StoredLeaf {
  leaf: Uint8Array;
  batch_sequence: string | null;
  batch_index: number | null;
  proof: Uint8Array | null;
}

export class VaultReader {
  readonly #q: Queryable;
  readonly #keyring: Keyring;
  readonly #rootSource: RootSource;

  constructor(q: Queryable, keyring: Keyring, rootSource: RootSource) {
    this.#q = q;
    this.#keyring = keyring;
    this.#rootSource = rootSource;
  }

  /** The current version. Deleted or erased: GoneError; never written: NotFoundError. */
  async read<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
  ): Promise<RecordVersion<T>> {
    const [row] = await this.#q.query<StoredVersionRow>(SELECT_CURRENT, [resourceType, id]);
    if (!row) throw new NotFoundError(`${resourceType}/${id} not found`);
    return this.#served<T>(resourceType, id, row);
  }

  /** One version; a deleted one is GoneError. */
  async vread<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
    versionId: number,
  ): Promise<RecordVersion<T>> {
    const [row] = await this.#q.query<StoredVersionRow>(SELECT_ONE_VERSION, [resourceType, id, versionId]);
    if (!row) throw new NotFoundError(`${resourceType}/${id}/_history/${versionId} not found`);
    return this.#served<T>(resourceType, id, row);
  }

  /**
   * One version as a history entry: deleted ones too, carrying the content of the version they
   * deleted (`previous`), which is what decides whose compartment the deletion belongs to.
   */
  async version<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
    versionId: number,
  ): Promise<HistoryEntry<T>> {
    const [row] = await this.#q.query<StoredVersionRow>(SELECT_ONE_VERSION, [resourceType, id, versionId]);
    if (!row) throw new NotFoundError(`${resourceType}/${id}/_history/${versionId} not found`);
    if (row.erased) throw new GoneError(`${resourceType}/${id} was erased`);
    const verified = await this.#verified(resourceType, id, row);
    if (!row.deleted) return liveEntry<T>(row, verified);
    const older = await this.#q.query<StoredVersionRow>(SELECT_HISTORY, [resourceType, id]);
    const deleted = older.find((r) => r.version_id < versionId && !r.deleted && !r.erased);
    const previous = deleted ? (await this.#verified(resourceType, id, deleted)).resource : undefined;
    return deletedEntry<T>(resourceType, id, row, verified, previous);
  }

  /**
   * The newest version as a history entry (a deletion carries the content it removed), or
   * undefined when the id was never written. Erased: GoneError.
   */
  async latest<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
  ): Promise<HistoryEntry<T> | undefined> {
    const [row] = await this.#q.query<StoredVersionRow>(SELECT_CURRENT, [resourceType, id]);
    if (!row) return undefined;
    if (!row.deleted) {
      if (row.erased) throw new GoneError(`${resourceType}/${id} was erased`);
      return liveEntry<T>(row, await this.#verified(resourceType, id, row));
    }
    return this.version<T>(resourceType, id, row.version_id);
  }

  /** Every version, newest first, each verified. An erased resource is gone as a whole. */
  async history<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
  ): Promise<HistoryEntry<T>[]> {
    const rows = await this.#q.query<StoredVersionRow>(SELECT_HISTORY, [resourceType, id]);
    if (rows.length === 0) throw new NotFoundError(`${resourceType}/${id} not found`);
    if (rows.some((row) => row.erased)) throw new GoneError(`${resourceType}/${id} was erased`);
    const verified: VerifiedVersion[] = [];
    for (const row of rows) verified.push(await this.#verified(resourceType, id, row));
    // Oldest to newest, so each deletion learns the content it deleted.
    const entries: HistoryEntry<T>[] = new Array(rows.length);
    let previous: FhirResource | undefined;
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i] as StoredVersionRow;
      const check = verified[i] as VerifiedVersion;
      if (row.deleted) entries[i] = deletedEntry<T>(resourceType, id, row, check, previous);
      else {
        entries[i] = liveEntry<T>(row, check);
        previous = check.resource;
      }
    }
    return entries;
  }

  /**
   * The current versions of several ids of one type, read with one statement and each verified.
   * Ids that are missing, deleted, erased or fail a check are left out (a failing one is recorded
   * as an integrity alert); a caller that needs to know why reads that id on its own.
   */
  async currentMany<T extends FhirResource = FhirResource>(
    resourceType: string,
    ids: readonly string[],
  ): Promise<Map<string, RecordVersion<T>>> {
    const found = new Map<string, RecordVersion<T>>();
    if (ids.length === 0) return found;
    const rows = await this.#q.query<StoredVersionRow & { resource_id: string }>(SELECT_CURRENT_MANY, [
      resourceType,
      [...ids],
    ]);
    for (const row of rows) {
      if (row.erased || row.deleted) continue;
      try {
        const verified = await verifyRecordVersion(
          resourceType,
          row.resource_id,
          row,
          this.#keyring,
          this.#rootSource,
        );
        found.set(row.resource_id, liveEntry<T>(row, verified));
      } catch (error) {
        if (!(error instanceof RecordCheckFailure)) throw error;
        await recordIntegrityAlert(this.#q, resourceType, row.resource_id, row.version_id, error.check);
      }
    }
    return found;
  }

  /**
   * The current version, verified, with its salt and ciphertext hash; undefined when there is
   * none to disclose (missing, deleted, erased) or it fails a check (recorded as an alert).
   * One decryption per version.
   */
  async disclose(resourceType: string, id: string): Promise<DisclosedVersion | undefined> {
    const [row] = await this.#q.query<StoredVersionRow>(SELECT_CURRENT, [resourceType, id]);
    if (!row || row.deleted || row.erased) return undefined;
    let verified: VerifiedVersion;
    try {
      verified = await verifyRecordVersion(resourceType, id, row, this.#keyring, this.#rootSource);
    } catch (error) {
      if (!(error instanceof RecordCheckFailure)) throw error;
      await recordIntegrityAlert(this.#q, resourceType, id, row.version_id, error.check);
      return undefined;
    }
    return { ...liveEntry(row, verified), salt: verified.salt, ciphertextHash: verified.ciphertextHash };
  }

  /** Versions newest first (type and system history), without content: read each to serve it. */
  async versions(filter: VersionFilter): Promise<VersionRef[]> {
    const params: (string | number)[] = [filter.limit];
    let where = 'TRUE';
    if (filter.resourceType) {
      params.push(filter.resourceType);
      where += ` AND resource_type = $${params.length}`;
    }
    if (filter.since) {
      params.push(filter.since);
      where += ` AND last_updated >= $${params.length}::timestamptz`;
    }
    if (filter.until) {
      params.push(filter.until);
      where += ` AND last_updated <= $${params.length}::timestamptz`;
    }
    if (filter.beforeSeq) {
      params.push(filter.beforeSeq);
      where += ` AND seq < $${params.length}::bigint`;
    }
    const rows = await this.#q.query<VersionRow>(
      `SELECT ${VERSION_REF_COLUMNS} FROM record_versions v WHERE ${where} ORDER BY v.seq DESC LIMIT $1`,
      params,
    );
    return rows.map(toRef);
  }

  /**
   * Per resource, the version current at `time` (a consistent snapshot while writes continue),
   * of the given types or all; deletions and erased versions included, for the caller to skip.
   */
  async currentAt(time: string, types?: readonly string[]): Promise<VersionRef[]> {
    const params: (string | string[])[] = [time];
    let where = 'last_updated <= $1::timestamptz';
    if (types) {
      params.push([...types]);
      where += ` AND resource_type = ANY($2::text[])`;
    }
    const rows = await this.#q.query<VersionRow>(
      `SELECT DISTINCT ON (resource_type, resource_id) ${VERSION_REF_COLUMNS}
       FROM record_versions WHERE ${where}
       ORDER BY resource_type, resource_id, version_id DESC`,
      params,
    );
    return rows.map(toRef);
  }

  /** Every stored (type, id) after `after`, in order, a page at a time (index rebuild). */
  async resourceIds(
    after: { resourceType: string; id: string },
    limit: number,
  ): Promise<{ resourceType: string; id: string }[]> {
    const rows = await this.#q.query<{ resource_type: string; resource_id: string }>(
      `SELECT DISTINCT resource_type, resource_id FROM record_versions
       WHERE (resource_type, resource_id) > ($1, $2)
       ORDER BY resource_type, resource_id LIMIT $3`,
      [after.resourceType, after.id, limit],
    );
    return rows.map((r) => ({ resourceType: r.resource_type, id: r.resource_id }));
  }

  /** Which of these ids of one type have ever been written (any version, deleted too). */
  async existing(resourceType: string, ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.#q.query<{ resource_id: string }>(
      'SELECT DISTINCT resource_id FROM record_versions WHERE resource_type = $1 AND resource_id = ANY($2::text[])',
      [resourceType, [...ids]],
    );
    return new Set(rows.map((r) => r.resource_id));
  }

  /** A version's leaf and batch position, for its proof; erased versions keep theirs. */
  async leafOf(resourceType: string, id: string, versionId: number): Promise<StoredLeaf | undefined> {
    const [row] = await this.#q.query<StoredLeaf>(
      `SELECT v.leaf, ${PROOF_COLUMNS} FROM record_versions v
       ${joinProofs(0, 'v')}
       WHERE v.resource_type = $1 AND v.resource_id = $2 AND v.version_id = $3`,
      [resourceType, id, versionId],
    );
    return row;
  }

  async #served<T extends FhirResource>(
    resourceType: string,
    id: string,
    row: StoredVersionRow,
  ): Promise<RecordVersion<T>> {
    if (row.erased) throw new GoneError(`${resourceType}/${id} was erased`);
    const verified = await this.#verified(resourceType, id, row);
    if (row.deleted) throw new GoneError(`${resourceType}/${id} was deleted`);
    return liveEntry<T>(row, verified);
  }

  async #verified(resourceType: string, id: string, row: StoredVersionRow): Promise<VerifiedVersion> {
    try {
      return await verifyRecordVersion(resourceType, id, row, this.#keyring, this.#rootSource);
    } catch (error) {
      if (!(error instanceof RecordCheckFailure)) throw error;
      await recordIntegrityAlert(this.#q, resourceType, id, row.version_id, error.check);
      throw new IntegrityError(error);
    }
  }
}

interface VersionRow {
  resource_type: string;
  resource_id: string;
  version_id: number;
  deleted: boolean;
  erased: boolean;
  last_updated: string;
  seq: string;
}

const VERSION_REF_COLUMNS = `resource_type, resource_id, version_id, deleted, erased_at IS NOT NULL AS erased,
  last_updated, seq::text AS seq`;

function toRef(row: VersionRow): VersionRef {
  return {
    resourceType: row.resource_type,
    id: row.resource_id,
    versionId: row.version_id,
    deleted: row.deleted,
    erased: row.erased,
    lastUpdated: new Date(row.last_updated).toISOString(),
    seq: row.seq,
  };
}

function liveEntry<T extends FhirResource>(
  row: StoredVersionRow,
  verified: VerifiedVersion,
): { deleted: false } & RecordVersion<T> {
  return {
    deleted: false,
    resource: verified.resource as T,
    versionId: row.version_id,
    lastUpdated: String(verified.resource.meta?.lastUpdated),
    anchor: verified.anchor,
  };
}

function deletedEntry<T extends FhirResource>(
  resourceType: string,
  id: string,
  row: StoredVersionRow,
  verified: VerifiedVersion,
  previous: FhirResource | undefined,
): HistoryEntry<T> {
  return {
    deleted: true,
    resourceType,
    id,
    versionId: row.version_id,
    lastUpdated: String(verified.resource.meta?.lastUpdated),
    anchor: verified.anchor,
    ...(previous === undefined ? {} : { previous }),
  };
}

/** Writes an alert an operator sees; never fails the caller's error path. */
export async function recordIntegrityAlert(
  q: Queryable,
  resourceType: string,
  id: string,
  versionId: number,
  check: string,
): Promise<void> {
  await q
    .query(
      `INSERT INTO integrity_alerts (subject, resource_type, resource_id, version_id, code, detail)
       VALUES ('record', $1, $2, $3, 'ERR_INTEGRITY', $4)`,
      [resourceType, id, versionId, check],
    )
    .catch(() => {});
}
