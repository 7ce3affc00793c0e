/**
 * @medplum/fhir-router's FhirRepository over the medledger vault: the router supplies REST
 * semantics (batch/transaction Bundles, urn:uuid resolution, conditional create/update,
 * If-Match), this class supplies storage. Every write is validated, stored encrypted through
 * the vault and indexed in the blind search index in one database transaction; a transaction
 * Bundle runs in one transaction (withTransaction), so it is all or nothing. One instance per
 * request: it carries that request's access guard and open transaction.
 * @see https://hl7.org/fhir/R4/http.html
 */
import {
  badRequest,
  conflict,
  forbidden,
  gone,
  notFound,
  OperationOutcomeError,
  parseSearchRequest,
  preconditionFailed,
  type SearchRequest,
  type WithId,
} from '@medplum/core';
import { FhirRepository, type RepositoryMode } from '@medplum/fhir-router';
import type {
  Bundle,
  BundleEntry,
  OperationOutcome,
  OperationOutcomeIssue,
  Reference,
  Resource,
} from '@medplum/fhirtypes';
import { applyPatch, type Operation } from 'rfc6902';
import type { Queryable } from '../store/db.ts';
import { NotFoundError, VersionConflictError } from '../vault/errors.ts';
import type { FhirResource, HistoryEntry } from '../vault/types.ts';
import { bufferFirstVersions } from '../vault/writeRecordVersion.ts';
import type { FhirService } from './FhirService.ts';
import {
  type BindingMethod,
  bindAddress,
  boundAddress,
  patientBoundTo,
} from './identity/patientIdentities.ts';
import { type HistoryWindow, inHistoryWindow } from './operations/historyWindow.ts';
import { ADDRESS_SYSTEM, compartmentPatients, patientAddressOf } from './patientCompartment.ts';
import type { ResourceGuard } from './ResourceGuard.ts';
import { resolveConditionalReferences } from './resolveConditionalReferences.ts';
import type { SearchHandling } from './search/checkSearchRequest.ts';
import { certainlyEmpty } from './search/lookupCandidates.ts';
import { type SearchVaultOptions, searchVault } from './search/searchVault.ts';
import { writeSearchIndex } from './search/writeSearchIndex.ts';
import { writeSearchIndexMany } from './search/writeSearchIndexMany.ts';
import { asOutcomeError } from './toOperationOutcome.ts';
import { validateFhirResource } from './validateFhirResource.ts';
import type { ValidationPool } from './validation/validationPool.ts';

export class VaultRepository extends FhirRepository<Queryable> {
  readonly #service: FhirService;

  /** The same request's repository (sharing its verified reads and its log) with another guard. */
  withGuard(guard: ResourceGuard): VaultRepository {
    const next = new VaultRepository(this.#service, guard, this.#log);
    for (const [k, v] of this.#seen) next.#seen.set(k, v);
    return next;
  }

  /**
   * What this request wrote, and the deletions it served (with the content each removed): with
   * the response itself, what the request's one audit event names and whose report it goes to.
   */
  get log(): RequestLog {
    return this.#log;
  }
  readonly #log: RequestLog;

  get service(): FhirService {
    return this.#service;
  }
  readonly #guard: ResourceGuard;
  #tx: Queryable | undefined;
  /** Current versions read (and verified) earlier in this request, until something is written. */
  readonly #seen = new Map<string, Resource>();
  /** Versions whose index rows are not yet written (deferIndexWrites): flushed before a search and at commit. */
  #unindexed: WithId<Resource>[] | undefined;

  /**
   * Bulk import: index rows of this repository's writes are written together, before the next
   * search and before the transaction commits (searches never see a stale index).
   */
  deferIndexWrites(memo?: Map<string, Buffer>): void {
    this.#unindexed ??= [];
    this.#blindMemo = memo;
  }

  /**
   * Bulk import: writes in a transaction are validated by `pool`'s worker threads while this
   * thread goes on; the transaction commits only once every one of them passed (otherwise it
   * rolls back with the first validation error), so nothing invalid is committed. A write that
   * fails before its answer came reports the validation error, when there is one, rather than
   * whatever a malformed resource broke on.
   */
  validateIn(pool: ValidationPool): void {
    this.#pool = pool;
  }

  #pool: ValidationPool | undefined;
  /** Validations of this transaction's writes still to be awaited before commit. */
  readonly #validations: Promise<void>[] = [];

  /** The import's blind values of index terms, when it keeps them (deferIndexWrites). */
  #blindMemo: Map<string, Buffer> | undefined;

  constructor(
    service: FhirService,
    guard: ResourceGuard,
    log: RequestLog = { written: [], deletions: new Map() },
  ) {
    super();
    this.#service = service;
    this.#guard = guard;
    this.#log = log;
  }

  setMode(_mode: RepositoryMode): void {}

  generateId(): string {
    return crypto.randomUUID();
  }

  async withTransaction<R>(callback: (client: Queryable) => Promise<R>): Promise<R> {
    if (this.#tx) return callback(this.#tx);
    try {
      return await this.#service.ctx.db.transaction(async (raw) => {
        // Bulk import also holds back its version-1 inserts and writes them many per statement.
        const buffered = this.#unindexed ? bufferFirstVersions(raw) : undefined;
        const tx = buffered ?? raw;
        this.#tx = tx;
        try {
          const result = await callback(tx);
          // The held-back writes go in while the validation workers finish (they are often still
          // busy here); the answers are awaited before the transaction commits. When a held-back
          // write fails, an invalid resource may be why: its validation error is the one reported.
          try {
            await this.#flushIndex();
            await buffered?.flush();
          } catch (error) {
            await this.#settleValidations();
            throw error;
          }
          await this.#settleValidations();
          return result;
        } finally {
          this.#tx = undefined;
        }
      });
    } catch (error) {
      throw asOutcomeError(error);
    }
  }

  async createResource<T extends Resource>(
    resource: T,
    options?: {
      assignedId?: boolean;
      /** More work in the write's own transaction (a notice's delivery row): both or neither. */
      alongside?: (tx: Queryable, written: WithId<Resource>) => Promise<void>;
    },
  ): Promise<WithId<T>> {
    return this.#wrap(async () => {
      const input = prepare(resource);
      checkIds(input);
      if (!options?.assignedId) delete input.id;
      await this.#resolveReferences(input);
      // Stored as written: a Patient gets a chain address from the patient ($claim), never one
      // made up here (what a client writes reads back exactly).
      if (input.resourceType === 'Patient') await this.#refuseTakenAddress(input);
      const validated = this.#validate(input);
      await this.#require(input, 'c', forbidden);
      this.#refuseUnauthorable(input);
      return (await this.#validatedWrite(validated, async (tx) => {
        const { vault } = this.#service.ctx;
        // An assigned id is the router's fresh one for a urn:uuid entry: a create, not an update.
        const result = await vault.createIn(tx, input as FhirResource, input.id ? { id: input.id } : {});
        await this.#bindIdentity(tx, result.resource as WithId<Resource>, 'created');
        await this.#recordAuthor(tx, result.resource as WithId<Resource>);
        await this.#index(tx, result.resource as WithId<Resource>);
        await options?.alongside?.(tx, result.resource as WithId<Resource>);
        this.#log.written.push({ resource: result.resource as WithId<Resource> });
        return result.resource;
      })) as unknown as WithId<T>;
    });
  }

  async updateResource<T extends Resource>(resource: T, options?: { ifMatch?: string }): Promise<WithId<T>> {
    return this.#wrap(async () => {
      const input = prepare(resource);
      if (!input.id) throw new OperationOutcomeError(badRequest('Missing id', `${input.resourceType}.id`));
      checkIds(input);
      await this.#resolveReferences(input);
      const existing = await this.#readOrUndefined(input.resourceType, input.id);
      if (existing) {
        await this.#require(existing, 'u', notFound);
        await this.#refuseNotAuthored(existing);
        if (input.resourceType === 'Patient') {
          // The binding (patient_identities) decides; a Patient stored before it had one only in
          // its identifier.
          const address = (await boundAddress(this.#q(), input.id)) ?? patientAddressOf(existing as never);
          const asked = patientAddressOf(input as never);
          if (!asked && address) ensurePatientAddress(input, address);
          else if (address && asked !== address && !this.#rebinding)
            throw new OperationOutcomeError({
              resourceType: 'OperationOutcome',
              id: 'forbidden',
              issue: [
                {
                  severity: 'error',
                  code: 'forbidden',
                  details: {
                    text: `The patient's chain identity (${ADDRESS_SYSTEM}) is not changed by a write; only $claim and $change-key change it`,
                  },
                  expression: ['Patient.identifier'],
                },
              ],
            });
          else if (asked !== address) await this.#refuseTakenAddress(input);
        }
      } else {
        await this.#refuseReuse(input);
        if (input.resourceType === 'Patient') await this.#refuseTakenAddress(input);
      }
      const validated = this.#validate(input);
      await this.#require(input, existing ? 'u' : 'c', forbidden);
      if (!existing) this.#refuseUnauthorable(input);
      const ifMatch = options?.ifMatch === undefined ? undefined : Number(options.ifMatch);
      if (ifMatch !== undefined && (!Number.isInteger(ifMatch) || !existing))
        throw new OperationOutcomeError(preconditionFailed);
      try {
        return (await this.#validatedWrite(validated, async (tx) => {
          const result = await this.#service.ctx.vault.updateIn(tx, input as FhirResource, { ifMatch });
          await this.#bindIdentity(
            tx,
            result.resource as WithId<Resource>,
            this.#rebinding ?? (existing ? 'recorded' : 'created'),
          );
          if (!existing) await this.#recordAuthor(tx, result.resource as WithId<Resource>);
          await this.#index(tx, result.resource as WithId<Resource>);
          this.#log.written.push({
            resource: result.resource as WithId<Resource>,
            ...(existing ? { before: existing } : {}),
          });
          return result.resource;
        })) as unknown as WithId<T>;
      } catch (error) {
        if (error instanceof VersionConflictError && ifMatch !== undefined)
          throw new OperationOutcomeError(preconditionFailed);
        throw error;
      }
    });
  }

  /**
   * A conditional update or delete needs search criteria: without them "PUT Location/" (an
   * entry missing its id) would create a resource and a criteria-less DELETE would match all.
   * @see https://hl7.org/fhir/R4/http.html#cond-update
   */
  override conditionalUpdate<T extends Resource>(
    resource: T,
    search: SearchRequest,
    options?: Parameters<FhirRepository<Queryable>['conditionalUpdate']>[2],
  ): Promise<{ resource: WithId<T>; outcome: OperationOutcome }> {
    requireCriteria(search, 'update');
    return super.conditionalUpdate(resource, search, options);
  }

  override conditionalDelete(search: SearchRequest): Promise<void> {
    requireCriteria(search, 'delete');
    return super.conditionalDelete(search);
  }

  async patchResource<T extends Resource>(
    resourceType: string,
    id: string,
    patch: Operation[],
  ): Promise<WithId<T>> {
    return this.#wrap(async () => {
      const current = await this.readResource<T>(resourceType, id);
      const versionId = current.meta?.versionId;
      const patched = structuredClone(current) as Resource;
      let errors: ReturnType<typeof applyPatch>;
      try {
        errors = applyPatch(patched, patch).filter(Boolean);
      } catch (error) {
        // rfc6902 throws (rather than reports) on a malformed operation, e.g. a path without '/'.
        throw new OperationOutcomeError(badRequest(`Invalid JSON Patch: ${(error as Error).message}`));
      }
      if (errors.length > 0)
        throw new OperationOutcomeError(
          badRequest(errors.map((e) => e?.message ?? 'patch failed').join('; ')),
        );
      if (patched.resourceType !== resourceType || patched.id !== id)
        throw new OperationOutcomeError(badRequest('A patch may not change resourceType or id'));
      return this.updateResource(patched as T, versionId === undefined ? {} : { ifMatch: versionId });
    });
  }

  async deleteResource(resourceType: string, id: string): Promise<void> {
    await this.#wrap(async () => {
      const existing = await this.#readOrUndefined(resourceType, id);
      if (existing) {
        await this.#require(existing, 'd', notFound);
        await this.#refuseNotAuthored(existing);
      }
      await this.#flushIndex();
      await this.#write(async (tx) => {
        const result = await this.#service.ctx.vault.deleteIn(tx, resourceType, id);
        await writeSearchIndex(tx, this.#service.key, resourceType, id, undefined);
        if (existing)
          this.#log.written.push({
            resource: result.resource as WithId<Resource>,
            before: existing,
            deleted: true,
          });
      });
      if (resourceType === 'Patient') this.#service.forgetPatient(id);
    });
  }

  async readResource<T extends Resource>(resourceType: string, id: string): Promise<WithId<T>> {
    return this.#wrap(async () => {
      const resource = await this.#readUnguarded(resourceType, id);
      await this.#require(resource, 'r', notFound);
      return resource as WithId<T>;
    });
  }

  readReference<T extends Resource>(reference: Reference<T>): Promise<WithId<T>> {
    const [type, id] = (reference.reference ?? '').split('/');
    if (!type || !id) throw new OperationOutcomeError(badRequest('Invalid reference'));
    return this.readResource<T>(type, id);
  }

  readReferences<T extends Resource>(references: readonly Reference<T>[]): Promise<(T | Error)[]> {
    return Promise.all(references.map((r) => this.readReference(r).catch((e: Error) => e)));
  }

  /**
   * One version, decided on its own content (a deletion on the content it removed): another
   * patient's version is 404 as if it did not exist; a visible deletion is 410.
   */
  async readVersion<T extends Resource>(resourceType: string, id: string, vid: string): Promise<WithId<T>> {
    return this.#wrap(async () => {
      const version = Number(vid);
      if (!Number.isInteger(version) || version < 1) throw new OperationOutcomeError(notFound);
      const entry = await this.#service.ctx.vault.reader(this.#q()).version(resourceType, id, version);
      const content = decidedOn(entry);
      if (!content) throw new OperationOutcomeError(notFound);
      await this.#require(content, 'r', notFound);
      if (entry.deleted) throw new OperationOutcomeError(gone);
      return entry.resource as unknown as WithId<T>;
    });
  }

  /**
   * Instance history: every version decided on its own content, for all its patients. Versions
   * the caller may not see are left out as if they did not exist (`total` counts the rest); none
   * left is 404.
   */
  async readHistory<T extends Resource>(
    resourceType: string,
    id: string,
    options?: { offset?: number; limit?: number },
  ): Promise<Bundle<WithId<T>>> {
    return this.#wrap(async () => {
      const all = await this.#service.ctx.vault.reader(this.#q()).history(resourceType, id);
      const visible = await this.visibleHistory(all);
      if (visible.length === 0) throw new OperationOutcomeError(notFound);
      const window = this.#historyWindow;
      if (window) {
        // Newest first: the version after entry i is entry i - 1 of the full history.
        const next = new Map(all.map((e, i) => [e.versionId, all[i - 1]?.lastUpdated]));
        const inside = visible.filter((e) => inHistoryWindow(window, e.lastUpdated, next.get(e.versionId)));
        visible.splice(0, visible.length, ...inside);
      }
      const offset = options?.offset ?? 0;
      const page = visible.slice(offset, offset + (options?.limit ?? 100));
      return historyBundle(
        page.map((e) => this.historyEntry(e)),
        visible.length,
      ) as Bundle<WithId<T>>;
    });
  }

  /** The `_since` / `_at` window of this request's instance history (historyWindow.ts). */
  setHistoryWindow(window: HistoryWindow): void {
    this.#historyWindow = window.since || window.at ? window : undefined;
  }
  #historyWindow: HistoryWindow | undefined;

  /** The entries of a history the caller may see, each decided on its own content. */
  async visibleHistory(entries: readonly HistoryEntry[]): Promise<HistoryEntry[]> {
    const visible: HistoryEntry[] = [];
    for (const entry of entries) {
      const content = decidedOn(entry);
      if (content && (await this.#guard.allows(content, 'r', this.#q()))) visible.push(entry);
    }
    return visible;
  }

  /** A history entry as served, a deletion remembered with the content it removed (for the audit). */
  historyEntry(entry: HistoryEntry): BundleEntry {
    if (entry.deleted)
      this.#log.deletions.set(
        `${entry.resourceType}/${entry.id}/_history/${entry.versionId}`,
        entry.previous as Resource | undefined,
      );
    return this.#service.historyEntry(entry);
  }

  /**
   * `Prefer: handling=` of the request's own search (the HTTP edge sets it for search
   * interactions only): a conditional write or batch never searches leniently, since dropping a
   * criterion would widen what it matches.
   */
  searchHandling: SearchHandling = 'strict';
  /** Parameters the edge left out of that search (lenient), named in its outcome entry. */
  searchIgnored: OperationOutcomeIssue[] = [];

  async search<T extends Resource>(
    request: SearchRequest<T>,
    options: SearchVaultOptions = {},
  ): Promise<Bundle<WithId<T>>> {
    return this.#wrap(async () => {
      await this.#flushIndex();
      const bundle = await searchVault(
        {
          q: this.#q(),
          key: this.#service.key,
          baseUrl: this.#service.baseUrl,
          read: (type, id) => this.readAllowed(type, id, 's'),
          ...(this.#guard.allowsPatient
            ? { allowsPatient: (type: string, patient: string) => this.#allowsPatient(type, patient) }
            : {}),
          prefetch: (type, ids) => this.#prefetch(type, ids),
        },
        request as SearchRequest,
        {
          handling: this.searchHandling,
          ignored: this.searchIgnored,
          ...this.#ownCompartment(),
          ...options,
        },
        options.compartmentPatient
          ? `Patient/${options.compartmentPatient}/${request.resourceType}`
          : request.resourceType,
      );
      return bundle as Bundle<WithId<T>>;
    });
  }

  async searchByReference<T extends Resource>(
    request: SearchRequest<T>,
    referenceField: string,
    references: string[],
  ): Promise<Record<string, WithId<T>[]>> {
    const results: Record<string, WithId<T>[]> = {};
    for (const reference of references) {
      const filters = [
        ...(request.filters ?? []),
        { code: referenceField, operator: 'eq' as const, value: reference },
      ];
      results[reference] = await this.searchResources({ ...request, filters });
    }
    return results;
  }

  /**
   * Of several searches (`Type?param=value`), the indexes of those that certainly match nothing
   * now (this transaction's own writes included), with one statement: lets a bulk import skip
   * the search, access check and reads of each conditional create or identity lookup that
   * finds nothing. A search left out may still match nothing; ask it.
   */
  async certainlyEmpty(queries: readonly string[]): Promise<Set<number>> {
    return this.#wrap(async () => {
      await this.#flushIndex();
      return certainlyEmpty(
        this.#q(),
        this.#service.key,
        queries.map((query) => {
          const { resourceType, filters } = parseSearchRequest(query);
          return { resourceType, filters: filters ?? [] };
        }),
      );
    });
  }

  /**
   * A patient's searches are bounded by their own compartment (searchVault `boundTo`): nothing
   * outside it would be allowed, so nothing outside it is read.
   */
  #ownCompartment(): { boundTo?: string } {
    const principal = this.#guard.principal;
    return principal?.kind === 'patient' && principal.patient !== undefined
      ? { boundTo: principal.patient }
      : {};
  }

  /** The patient a patient token acts for ('' without a patient context); undefined for anyone else. */
  #authoringPatient(): string | undefined {
    const principal = this.#guard.principal;
    return principal?.kind === 'patient' ? (principal.patient ?? '') : undefined;
  }

  /** A patient authors only the types a portal lets patients write (`patientAuthoredTypes`). */
  #refuseUnauthorable(input: Resource): void {
    if (this.#authoringPatient() === undefined) return;
    if (this.#service.ctx.config.patientAuthoredTypes.includes(input.resourceType)) return;
    throw new OperationOutcomeError(
      refusal(`Patients do not author ${input.resourceType} resources here`, input.resourceType),
    );
  }

  /** A patient changes or deletes only what they authored, never what a clinician wrote. */
  async #refuseNotAuthored(existing: Resource): Promise<void> {
    const patient = this.#authoringPatient();
    if (patient === undefined) return;
    const rows = await this.#q().query(
      'SELECT 1 FROM record_authors WHERE resource_type = $1 AND resource_id = $2 AND author_index = $3',
      [existing.resourceType, existing.id ?? '', this.#authorIndex(patient)],
    );
    if (rows.length === 0)
      throw new OperationOutcomeError(
        refusal('A patient changes or deletes only what they authored', existing.resourceType),
      );
  }

  async #recordAuthor(tx: Queryable, written: WithId<Resource>): Promise<void> {
    const patient = this.#authoringPatient();
    if (patient === undefined) return;
    await tx.query(
      `INSERT INTO record_authors (resource_type, resource_id, author_index) VALUES ($1, $2, $3)
       ON CONFLICT (resource_type, resource_id) DO NOTHING`,
      [written.resourceType, written.id, this.#authorIndex(patient)],
    );
  }

  #authorIndex(patient: string): Buffer {
    return this.#service.key.blind('Author', 'patient', patient);
  }

  /**
   * A patient's chain address is their identity for consent: it is not resource data a writer may
   * change. Set at creation (or generated), changed only by `$claim` (the patient proving the claim
   * code with their new key), which calls this on its own repository.
   */
  allowIdentityRebinding(method: 'claim' | 'key-change'): void {
    this.#rebinding = method;
  }
  #rebinding: 'claim' | 'key-change' | undefined;

  /**
   * Two Patients never carry one chain address: the second would take over the first's consent.
   * The binding table answers (its unique constraint decides a race), without asking the index.
   */
  async #refuseTakenAddress(input: Resource): Promise<void> {
    const address = patientAddressOf(input as never);
    if (!address) return;
    const bound = await patientBoundTo(this.#q(), address);
    if (bound !== undefined && bound !== input.id)
      throw new OperationOutcomeError(conflict('this chain address already identifies another patient'));
  }

  /** Records the Patient's chain address in the binding table, in the write's transaction. */
  async #bindIdentity(tx: Queryable, resource: WithId<Resource>, method: BindingMethod): Promise<void> {
    if (resource.resourceType !== 'Patient') return;
    const address = patientAddressOf(resource as never);
    if (address === undefined) return;
    await bindAddress(tx, resource.id, address, method);
    this.#service.forgetPatient(resource.id);
  }

  /**
   * An id once used for one patient's resource is never re-used for another's: a PUT on a
   * deleted id must be allowed for the content it removed, and keep the same patients (409).
   */
  async #refuseReuse(input: Resource): Promise<void> {
    const latest = await this.#service.ctx.vault
      .reader(this.#q())
      .latest(input.resourceType, input.id as string);
    if (!latest?.deleted) return;
    const before = latest.previous as Resource | undefined;
    if (!before) return;
    await this.#require(before, 'u', notFound);
    const was = compartmentPatients(before).sort().join(',');
    const now = compartmentPatients(input).sort().join(',');
    if (was !== now)
      throw new OperationOutcomeError(
        conflict(`${input.resourceType}/${input.id} was another patient's record; its id is not re-used`),
      );
  }

  /**
   * What the access decision of a request about `type/id` rests on, with no access check: the
   * current version, or for a deleted one the content it removed (`deleted` set).
   */
  async peekSubject(
    resourceType: string,
    id: string,
  ): Promise<{ resource: Resource; deleted: boolean } | undefined> {
    return this.#wrap(async () => {
      const latest = await this.#service.ctx.vault
        .reader(this.#q())
        .latest(resourceType, id)
        .catch((error: unknown) => {
          if ((error as { code?: string }).code === 'ERR_GONE') return undefined;
          throw error;
        });
      const content = latest && decidedOn(latest);
      if (!content) return undefined;
      // The served read of the same request reuses this verified read (it is not repeated).
      if (!latest.deleted) this.#seen.set(`${resourceType}/${id}`, structuredClone(content));
      return { resource: content, deleted: latest.deleted };
    });
  }

  /** What the decision about one version rests on (its content, or what a deletion removed). */
  async peekVersion(resourceType: string, id: string, versionId: number): Promise<Resource | undefined> {
    if (!Number.isInteger(versionId) || versionId < 1) return undefined;
    return this.#wrap(async () => {
      const entry = await this.#service.ctx.vault
        .reader(this.#q())
        .version(resourceType, id, versionId)
        .catch((error: unknown) => {
          const code = (error as { code?: string }).code;
          if (code === 'ERR_GONE' || code === 'ERR_NOT_FOUND') return undefined;
          throw error;
        });
      return entry && decidedOn(entry);
    });
  }

  /** A verified current version with no access check, or undefined if missing or gone. */
  async #readOrUndefined(resourceType: string, id: string): Promise<Resource | undefined> {
    try {
      return await this.#readUnguarded(resourceType, id);
    } catch (error) {
      if (error instanceof NotFoundError || (error as { code?: string }).code === 'ERR_GONE')
        return undefined;
      throw error;
    }
  }

  /** Current versions of several ids into this request's verified reads, with one statement. */
  async #prefetch(resourceType: string, ids: readonly string[]): Promise<void> {
    if (this.#tx) return; // reads inside a transaction go through it, one by one
    const missing = ids.filter((id) => !this.#seen.has(`${resourceType}/${id}`));
    const found = await this.#service.ctx.vault.readCurrentMany(resourceType, missing);
    for (const [id, version] of found) this.#seen.set(`${resourceType}/${id}`, version.resource as Resource);
  }

  async #readUnguarded(resourceType: string, id: string): Promise<Resource> {
    const key = `${resourceType}/${id}`;
    const seen = this.#seen.get(key);
    if (seen) return structuredClone(seen);
    const { resource } = await this.#service.ctx.vault.reader(this.#q()).read(resourceType, id);
    this.#seen.set(key, structuredClone(resource) as unknown as Resource);
    return resource as unknown as Resource;
  }

  async #require(resource: Resource, interaction: 'c' | 'r' | 'u' | 'd' | 's', denied: OperationOutcome) {
    if (!(await this.#guard.allows(resource, interaction, this.#q())))
      throw new OperationOutcomeError(denied);
  }

  async #index(tx: Queryable, resource: WithId<Resource>): Promise<void> {
    if (this.#unindexed && this.#tx) {
      this.#unindexed.push(resource);
      if (resource.resourceType === 'Patient') this.#service.forgetPatient(resource.id);
      return;
    }
    await writeSearchIndex(tx, this.#service.key, resource.resourceType, resource.id, resource);
    if (resource.resourceType === 'Patient') this.#service.forgetPatient(resource.id);
  }

  #resolveReferences(resource: Resource): Promise<void> {
    return resolveConditionalReferences(resource, (query) =>
      this.searchResources({ ...parseSearchRequest(query), count: 2 }),
    );
  }

  async #flushIndex(): Promise<void> {
    if (!this.#unindexed?.length || !this.#tx) return;
    const resources = this.#unindexed.splice(0);
    await writeSearchIndexMany(this.#tx, this.#service.key, resources, this.#blindMemo);
  }

  #q(): Queryable {
    return this.#tx ?? this.#service.ctx.db;
  }

  /** A verified current version the caller may read, or undefined (missing, gone or not allowed). */
  async readAllowed(
    resourceType: string,
    id: string,
    interaction: 'r' | 's' = 'r',
  ): Promise<Resource | undefined> {
    const resource = await this.#readOrUndefined(resourceType, id);
    return resource && (await this.#guard.allows(resource, interaction, this.#q())) ? resource : undefined;
  }

  #allowsPatient(resourceType: string, patientId: string): Promise<boolean> {
    return this.#guard.allowsPatient?.(resourceType, patientId, 's', this.#q()) ?? Promise.resolve(false);
  }

  /** A verified current version with no access check (the HTTP layer's pre-decision look-up). */
  peek(resourceType: string, id: string): Promise<Resource | undefined> {
    return this.#wrap(() => this.#readOrUndefined(resourceType, id));
  }

  /**
   * Validates `input` now, or (bulk import with a pool, inside a transaction) hands it to the pool
   * and returns the pending answer, already copied so later changes to `input` are not seen.
   */
  #validate(input: Resource): Promise<OperationOutcome | undefined> | undefined {
    const policy = this.#service.ctx.config.validation;
    if (this.#pool && this.#tx) return handled(this.#pool.validate(input, policy));
    validateFhirResource(input, policy);
    return undefined;
  }

  /** {@link #write}, and the pending validation awaited before commit (or now, if the write fails). */
  async #validatedWrite<R>(
    validated: Promise<OperationOutcome | undefined> | undefined,
    fn: (tx: Queryable) => Promise<R>,
  ): Promise<R> {
    if (!validated) return this.#write(fn);
    let result: R;
    try {
      result = await this.#write(fn);
    } catch (error) {
      const outcome = await validated.catch(() => undefined);
      throw outcome ? new OperationOutcomeError(outcome) : error;
    }
    this.#validations.push(
      handled(
        validated.then((outcome) => {
          if (outcome) throw new OperationOutcomeError(describeInput(result, outcome));
        }),
      ),
    );
    return result;
  }

  async #settleValidations(): Promise<void> {
    const pending = this.#validations.splice(0);
    const results = await Promise.allSettled(pending);
    const failed = results.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
  }

  /** Runs a write in the open transaction, or in a new one. */
  #write<R>(fn: (tx: Queryable) => Promise<R>): Promise<R> {
    this.#seen.clear();
    return this.#tx ? fn(this.#tx) : this.#service.ctx.db.transaction(fn);
  }

  async #wrap<R>(fn: () => Promise<R>): Promise<R> {
    try {
      return await fn();
    } catch (error) {
      throw asOutcomeError(error);
    }
  }
}

/** Resource and contained ids must be FHIR ids even where the server assigns its own. */
function checkIds(resource: Resource): void {
  const ids: [unknown, string][] = [[resource.id, `${resource.resourceType}.id`]];
  const contained = (resource as { contained?: { id?: unknown }[] }).contained ?? [];
  for (const [i, c] of contained.entries()) ids.push([c.id, `${resource.resourceType}.contained[${i}].id`]);
  for (const [id, path] of ids) {
    if (id !== undefined && (typeof id !== 'string' || !FHIR_ID.test(id)))
      throw new OperationOutcomeError(badRequest(`Invalid resource id ${JSON.stringify(id)}`, path));
  }
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** A copy without server-managed meta (the vault sets versionId and lastUpdated). */
function prepare<T extends Resource>(resource: T): T {
  if (typeof resource !== 'object' || resource === null || Array.isArray(resource))
    throw new OperationOutcomeError(badRequest('The body is not a FHIR resource'));
  const copy = structuredClone(resource);
  if (copy.meta) {
    const { versionId: _v, lastUpdated: _l, ...meta } = copy.meta;
    if (Object.keys(meta).length > 0) copy.meta = meta;
    else delete copy.meta;
  }
  return copy;
}

/**
 * A Patient carries its pseudonymous chain address; one created without gets a fresh random
 * address whose key is kept nowhere (the patient claims the record by another flow).
 */
/** Keeps a Patient's chain address on an update that left it out: the identity is not the writer's to drop. */
function ensurePatientAddress(patient: Resource, address: string): void {
  const p = patient as { identifier?: { system?: string; value?: string }[] };
  if (p.identifier !== undefined && !Array.isArray(p.identifier)) return; // validation refuses it
  if (p.identifier?.some((i) => i?.system === ADDRESS_SYSTEM)) return;
  p.identifier = [...(p.identifier ?? []), { system: ADDRESS_SYSTEM, value: address }];
}

/** A history Bundle; `total` is every entry the caller may see (the page may hold fewer). */
function historyBundle(entry: BundleEntry[], total: number): Bundle {
  return { resourceType: 'Bundle', type: 'history', total, ...(entry.length ? { entry } : {}) };
}

function requireCriteria(search: SearchRequest, interaction: 'update' | 'delete'): void {
  if (search.filters?.length) return;
  throw new OperationOutcomeError(
    badRequest(
      `Conditional ${interaction} needs search criteria; to ${interaction} one resource use ${search.resourceType}/[id]`,
      `${search.resourceType}.id`,
    ),
  );
}

/**
 * A deferred validation's outcome says which resource it is about: its errors surface when the
 * transaction commits, no longer next to the entry that caused them.
 */
function describeInput(written: unknown, outcome: OperationOutcome): OperationOutcome {
  const resource = written as { resourceType?: string; id?: string };
  const which = resource?.resourceType && resource.id ? `${resource.resourceType}/${resource.id}: ` : '';
  return {
    ...outcome,
    issue: (outcome.issue ?? []).map((issue) => ({
      ...issue,
      details: {
        ...issue.details,
        text: `${which}${issue.details?.text ?? issue.diagnostics ?? issue.code}`,
      },
    })),
  };
}

/** `promise`, marked handled: it is awaited later, and may reject before that (no unhandled rejection). */
function handled<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}

/** What one request wrote (with the version it replaced) and which deletions it served. */
export interface RequestLog {
  written: { resource: WithId<Resource>; before?: Resource; deleted?: boolean }[];
  /** `Type/id/_history/v` of each deletion served, with the content it removed. */
  deletions: Map<string, Resource | undefined>;
}

/** The content a version is decided on: its own, or for a deletion the content it removed. */
export function decidedOn(entry: HistoryEntry): Resource | undefined {
  return (entry.deleted ? entry.previous : entry.resource) as Resource | undefined;
}

/** A 403 OperationOutcome that says why. */
function refusal(text: string, expression: string): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    id: 'forbidden',
    issue: [{ severity: 'error', code: 'forbidden', details: { text }, expression: [expression] }],
  };
}
