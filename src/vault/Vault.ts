/**
 * The record vault: every FHIR resource version stored encrypted, committed and (in batches)
 * anchored; every read verified before it is served. Writes return once committed. The `...In`
 * methods write inside a caller's transaction (FHIR transaction bundles).
 * @see https://hl7.org/fhir/R4/http.html (create, update, delete, read, vread, history)
 */
import { randomUUID } from 'node:crypto';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Db, Queryable } from '../store/db.ts';
import type { AnchorBatcher } from './AnchorBatcher.ts';
import { type EraseRecordResult, eraseRecord } from './eraseRecord.ts';
import {
  GoneError,
  IntegrityError,
  InvalidResourceError,
  NotFoundError,
  VersionConflictError,
} from './errors.ts';
import type { RootSource } from './RootSource.ts';
import {
  SELECT_CURRENT,
  SELECT_CURRENT_MANY,
  SELECT_HISTORY,
  SELECT_ONE_VERSION,
  type StoredVersionRow,
} from './storedVersionRow.ts';
import type { FhirResource, HistoryEntry, RecordVersion, WriteResult } from './types.ts';
import { RecordCheckFailure, verifyRecordVersion } from './verifyRecordVersion.ts';
import { writeRecordVersion } from './writeRecordVersion.ts';

export interface VaultOptions {
  db: Db;
  keyring: Keyring;
  rootSource: RootSource;
  /** Told of every write so a full batch is built at once. */
  batcher?: AnchorBatcher | undefined;
  now?: () => Date;
  newId?: () => string;
}

export interface UpdateOptions {
  /** The version the client last read (`If-Match: W/"n"`); a stale one is a VersionConflictError. */
  ifMatch?: number | undefined;
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const RESOURCE_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const RETRIES = 3;

export class Vault {
  readonly #db: Db;
  readonly #keyring: Keyring;
  readonly #rootSource: RootSource;
  readonly #batcher: AnchorBatcher | undefined;
  readonly #now: () => Date;
  readonly #newId: () => string;

  constructor(options: VaultOptions) {
    this.#db = options.db;
    this.#keyring = options.keyring;
    this.#rootSource = options.rootSource;
    this.#batcher = options.batcher;
    this.#now = options.now ?? (() => new Date());
    this.#newId = options.newId ?? randomUUID;
  }

  /** Where this vault's reads check anchored roots (a node's: from the chain, never the database). */
  get rootSource(): RootSource {
    return this.#rootSource;
  }

  /** Stores a new resource with a server-assigned id as version 1. */
  create<T extends FhirResource>(resource: T): Promise<WriteResult<T>> {
    return this.createIn(this.#db, resource);
  }

  /**
   * With `id`: version 1 under an id the caller chose and knows to be new (a FHIR transaction's
   * server-assigned id for a `urn:uuid` entry); an existing id is a VersionConflictError, never
   * an update. Saves the latest-version look-up an update-as-create needs.
   */
  async createIn<T extends FhirResource>(
    q: Queryable,
    resource: T,
    options: { id?: string } = {},
  ): Promise<WriteResult<T>> {
    checkType(resource.resourceType);
    const id = options.id === undefined ? this.#newId() : checkId(options.id);
    const result = await this.#write(q, resource.resourceType, id, 1, resource, false);
    return result as WriteResult<T>;
  }

  /** Stores a new version (or version 1 when the id is new: update as create). */
  update<T extends FhirResource>(resource: T, options: UpdateOptions = {}): Promise<WriteResult<T>> {
    return this.#retrying(options, (q) => this.updateIn(q, resource, options));
  }

  async updateIn<T extends FhirResource>(
    q: Queryable,
    resource: T,
    options: UpdateOptions = {},
  ): Promise<WriteResult<T>> {
    checkType(resource.resourceType);
    const id = checkId(resource.id);
    const versionId = await this.#nextVersion(q, resource.resourceType, id, options.ifMatch);
    return (await this.#write(q, resource.resourceType, id, versionId, resource, false)) as WriteResult<T>;
  }

  /** Stores a deleted version. Deleting a deleted resource changes nothing. */
  delete(resourceType: string, id: string, options: UpdateOptions = {}): Promise<WriteResult> {
    return this.#retrying(options, (q) => this.deleteIn(q, resourceType, id, options));
  }

  async deleteIn(
    q: Queryable,
    resourceType: string,
    id: string,
    options: UpdateOptions = {},
  ): Promise<WriteResult> {
    checkType(resourceType);
    checkId(id);
    const latest = await latestVersion(q, resourceType, id);
    if (!latest) throw new NotFoundError(`${resourceType}/${id} not found`);
    if (options.ifMatch !== undefined && options.ifMatch !== latest.version_id)
      throw new VersionConflictError();
    if (latest.deleted) {
      const lastUpdated = new Date(latest.last_updated).toISOString();
      return {
        resource: { resourceType, id, meta: { versionId: String(latest.version_id), lastUpdated } },
        versionId: latest.version_id,
        lastUpdated,
        deleted: true,
        leaf: `0x${Buffer.from(latest.leaf).toString('hex')}`,
      };
    }
    return this.#write(q, resourceType, id, latest.version_id + 1, undefined, true);
  }

  /** Crypto-shreds every version of a resource; later reads are GoneError. */
  erase(
    resourceType: string,
    id: string,
    options: { erasedBy: string; reason?: string | undefined },
  ): Promise<EraseRecordResult> {
    return eraseRecord(this.#db, { resourceType, id, ...options });
  }

  /** The current version. Deleted or erased: GoneError; never written: NotFoundError. */
  async read<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
  ): Promise<RecordVersion<T>> {
    const rows = await this.#db.query<StoredVersionRow>(SELECT_CURRENT, [resourceType, id]);
    const row = rows[0];
    if (!row) throw new NotFoundError(`${resourceType}/${id} not found`);
    return this.#served<T>(resourceType, id, row);
  }

  /**
   * The current versions of several ids of one type, read with one statement and each verified
   * like {@link read}. Ids that are missing, deleted, erased or fail a check are left out: a
   * caller that needs to know why reads that id on its own (which raises the error and records
   * an integrity alert).
   */
  async readCurrentMany<T extends FhirResource = FhirResource>(
    resourceType: string,
    ids: readonly string[],
  ): Promise<Map<string, RecordVersion<T>>> {
    const found = new Map<string, RecordVersion<T>>();
    if (ids.length === 0) return found;
    const rows = await this.#db.query<StoredVersionRow & { resource_id: string }>(SELECT_CURRENT_MANY, [
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
        found.set(row.resource_id, {
          resource: verified.resource as T,
          versionId: row.version_id,
          lastUpdated: String(verified.resource.meta?.lastUpdated),
          anchor: verified.anchor,
        });
      } catch (error) {
        if (!(error instanceof RecordCheckFailure)) throw error;
      }
    }
    return found;
  }

  /** One version. */
  async vread<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
    versionId: number,
  ): Promise<RecordVersion<T>> {
    const rows = await this.#db.query<StoredVersionRow>(SELECT_ONE_VERSION, [resourceType, id, versionId]);
    const row = rows[0];
    if (!row) throw new NotFoundError(`${resourceType}/${id}/_history/${versionId} not found`);
    return this.#served<T>(resourceType, id, row);
  }

  /** Every version, newest first, each verified. An erased resource is gone as a whole. */
  async history<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
  ): Promise<HistoryEntry<T>[]> {
    const rows = await this.#db.query<StoredVersionRow>(SELECT_HISTORY, [resourceType, id]);
    if (rows.length === 0) throw new NotFoundError(`${resourceType}/${id} not found`);
    if (rows.some((row) => row.erased)) throw new GoneError(`${resourceType}/${id} was erased`);
    const entries: HistoryEntry<T>[] = [];
    for (const row of rows) {
      const verified = await this.#verified(resourceType, id, row);
      const lastUpdated = String(verified.resource.meta?.lastUpdated);
      entries.push(
        row.deleted
          ? {
              deleted: true,
              resourceType,
              id,
              versionId: row.version_id,
              lastUpdated,
              anchor: verified.anchor,
            }
          : {
              deleted: false,
              resource: verified.resource as T,
              versionId: row.version_id,
              lastUpdated,
              anchor: verified.anchor,
            },
      );
    }
    return entries;
  }

  async #served<T extends FhirResource>(
    resourceType: string,
    id: string,
    row: StoredVersionRow,
  ): Promise<RecordVersion<T>> {
    if (row.erased) throw new GoneError(`${resourceType}/${id} was erased`);
    const verified = await this.#verified(resourceType, id, row);
    if (row.deleted) throw new GoneError(`${resourceType}/${id} was deleted`);
    return {
      resource: verified.resource as T,
      versionId: row.version_id,
      lastUpdated: String(verified.resource.meta?.lastUpdated),
      anchor: verified.anchor,
    };
  }

  async #verified(resourceType: string, id: string, row: StoredVersionRow) {
    try {
      return await verifyRecordVersion(resourceType, id, row, this.#keyring, this.#rootSource);
    } catch (error) {
      if (!(error instanceof RecordCheckFailure)) throw error;
      await recordIntegrityAlert(this.#db, resourceType, id, row.version_id, error.check);
      throw new IntegrityError(error);
    }
  }

  async #nextVersion(
    q: Queryable,
    resourceType: string,
    id: string,
    ifMatch: number | undefined,
  ): Promise<number> {
    if (ifMatch !== undefined) {
      if (!Number.isInteger(ifMatch) || ifMatch < 1) throw new VersionConflictError();
      return ifMatch + 1;
    }
    const latest = await latestVersion(q, resourceType, id);
    return (latest?.version_id ?? 0) + 1;
  }

  async #write(
    q: Queryable,
    resourceType: string,
    id: string,
    versionId: number,
    resource: FhirResource | undefined,
    deleted: boolean,
  ): Promise<WriteResult> {
    const result = await writeRecordVersion(q, {
      resourceType,
      id,
      versionId,
      resource,
      deleted,
      lastUpdated: this.#now(),
      kek: this.#keyring.current(),
    });
    this.#batcher?.noteWritten(1);
    return result;
  }

  /** Without If-Match a lost race is retried; with it, the conflict is the answer. */
  async #retrying<R>(options: UpdateOptions, write: (q: Queryable) => Promise<R>): Promise<R> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write(this.#db);
      } catch (error) {
        const retry =
          error instanceof VersionConflictError && options.ifMatch === undefined && attempt < RETRIES;
        if (!retry) throw error;
      }
    }
  }
}

async function latestVersion(q: Queryable, resourceType: string, id: string) {
  const rows = await q.query<{
    version_id: number;
    deleted: boolean;
    last_updated: string;
    leaf: Uint8Array;
  }>(
    `SELECT version_id, deleted, last_updated::text AS last_updated, leaf FROM record_versions
     WHERE resource_type = $1 AND resource_id = $2 ORDER BY version_id DESC LIMIT 1`,
    [resourceType, id],
  );
  return rows[0];
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

function checkType(resourceType: string): void {
  if (!RESOURCE_TYPE.test(resourceType))
    throw new InvalidResourceError(`invalid resource type ${resourceType}`);
}

function checkId(id: string | undefined): string {
  if (id === undefined || !RESOURCE_ID.test(id))
    throw new InvalidResourceError(`invalid resource id ${String(id)}`);
  return id;
}
