/**
 * The record vault: every FHIR resource version stored encrypted, committed and (in batches)
 * anchored; every read verified before it is served. Writes return once committed. The `...In`
 * methods write inside a caller's transaction (FHIR transaction bundles).
 * @see https://hl7.org/fhir/R4/http.html (create, update, delete, read, vread, history)
 */
import { randomUUID } from 'node:crypto';
import type { RootSource } from '../chain/RootSource.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Db, Queryable } from '../store/db.ts';
import type { AnchorBatcher } from './AnchorBatcher.ts';
import { type EraseRecordResult, eraseRecord } from './eraseRecord.ts';
import { InvalidResourceError, NotFoundError, VersionConflictError } from './errors.ts';
import type { FhirResource, HistoryEntry, RecordVersion, WriteResult } from './types.ts';
import { VaultReader } from './VaultReader.ts';
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

  /**
   * The one door to stored versions (see {@link VaultReader}), reading through `q`: the database,
   * or an open transaction that must read what it wrote.
   */
  reader(q: Queryable = this.#db): VaultReader {
    return new VaultReader(q, this.#keyring, this.#rootSource);
  }

  /** The current version. Deleted or erased: GoneError; never written: NotFoundError. */
  read<T extends FhirResource = FhirResource>(resourceType: string, id: string): Promise<RecordVersion<T>> {
    return this.reader().read<T>(resourceType, id);
  }

  /** The current versions of several ids of one type; see {@link VaultReader.currentMany}. */
  readCurrentMany<T extends FhirResource = FhirResource>(
    resourceType: string,
    ids: readonly string[],
  ): Promise<Map<string, RecordVersion<T>>> {
    return this.reader().currentMany<T>(resourceType, ids);
  }

  /** One version. */
  vread<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
    versionId: number,
  ): Promise<RecordVersion<T>> {
    return this.reader().vread<T>(resourceType, id, versionId);
  }

  /** Every version, newest first, each verified. An erased resource is gone as a whole. */
  history<T extends FhirResource = FhirResource>(
    resourceType: string,
    id: string,
  ): Promise<HistoryEntry<T>[]> {
    return this.reader().history<T>(resourceType, id);
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

function checkType(resourceType: string): void {
  if (!RESOURCE_TYPE.test(resourceType))
    throw new InvalidResourceError(`invalid resource type ${resourceType}`);
}

function checkId(id: string | undefined): string {
  if (id === undefined || !RESOURCE_ID.test(id))
    throw new InvalidResourceError(`invalid resource id ${String(id)}`);
  return id;
}
