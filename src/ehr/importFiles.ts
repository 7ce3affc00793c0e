/**
 * `medledger import`: loads FHIR data exported by an EHR through the same repository and router
 * as the REST API (Medplum's batch/transaction processing: urn:uuid resolution, ifNoneExist,
 * PUT with client ids; then validation, encryption, commitment, search index and anchoring in
 * VaultRepository), one database transaction per Bundle (or per chunk of NDJSON lines), with:
 * - deduplication of Organizations and Practitioners by identifier across files
 *   ({@link prepareImportEntries});
 * - conditional references resolved against what is stored, cached for the import;
 * - an import ledger (`ehr_import_ledger`) written in the same transaction, so a re-run skips
 *   what committed (reported `unchanged`) and an interrupted import resumes where it stopped;
 * - a generated chain address and a one-time claim code for patients without one;
 * - one audit event per file.
 * A transaction Bundle is atomic: any failing entry rolls the whole Bundle back.
 * @see https://hl7.org/fhir/R4/http.html#transaction
 */
import { availableParallelism, userInfo } from 'node:os';
import { badRequest, isOk, OperationOutcomeError } from '@medplum/core';
import type { Bundle, BundleEntry, OperationOutcome } from '@medplum/fhirtypes';
import type { AuditEventInput } from '../audit/AuditSink.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import { createFhirService } from '../fhir/createFhirService.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { storeClaims } from '../fhir/identity/patientClaims.ts';
import { OPEN_GUARD } from '../fhir/ResourceGuard.ts';
import { VaultRepository } from '../fhir/VaultRepository.ts';
import { ValidationPool } from '../fhir/validation/validationPool.ts';
import { refreshStaleStatistics } from '../store/embeddedMaintenance.ts';
import { count, emptySummary, type ImportSummary } from './ImportSummary.ts';
import { type LedgerRow, readLedger, writeLedger } from './importLedger.ts';
import { listImportFiles } from './listImportFiles.ts';
import { type ImportCaches, prepareImportEntries, resourceTypeOf } from './prepareImportEntries.ts';
import { type ImportFile, type ImportUnit, readImportFile } from './readImportFile.ts';

export interface ImportProgress {
  done: number;
  total: number;
  file: string;
}

export interface ImportFilesOptions {
  /** Who runs the import, for the audit events. Default `cli:<os user>`. */
  operator?: string;
  onProgress?: (progress: ImportProgress) => void;
  /** Called after each file (its resources settled and committed). */
  onFileDone?: (file: string, summary: Readonly<ImportSummary>) => void;
  /** NDJSON lines per database transaction. Default 500. */
  chunkSize?: number;
  /**
   * Worker threads that validate while this thread stores (ValidationPool). Default: one fewer
   * than the cores, for an import of at least {@link POOL_MIN_RESOURCES} resources (a worker takes
   * about a second to load the definitions); 0 validates on this thread.
   */
  validationWorkers?: number;
}

/** Smallest import for which validation worker threads are started by default. */
export const POOL_MIN_RESOURCES = 1000;

interface UnitResult {
  status: 'created' | 'updated' | 'unchanged' | 'failed';
  resourceType: string;
  reference?: string;
  reason?: string;
}

export async function importFiles(
  ctx: NodeContext,
  paths: readonly string[],
  options: ImportFilesOptions = {},
): Promise<ImportSummary> {
  const started = performance.now();
  const files = await listImportFiles(paths);
  let total = 0;
  for (const path of files) {
    const file = await readImportFile(path);
    total += file.units.length + file.failed.length;
  }
  // Validation workers start first: each loads the R4 definitions (about a second) while this
  // thread loads its own for the FhirService, instead of after it, with the first file waiting.
  const pool = validationPoolFor(total, options);
  const service = await createFhirService(ctx).catch(async (error: unknown) => {
    await pool?.close();
    throw error;
  });
  const importer = new Importer(service, options, total, pool);
  try {
    for (const path of files) {
      await importer.importFile(await readImportFile(path));
      options.onFileDone?.(path, importer.summary);
    }
  } finally {
    await importer.flushAudit();
    await importer.close();
  }
  // A bulk load leaves the embedded database's statistics stale (it has no autovacuum): refresh them
  // now, so the first searches after an import are planned on the data they search.
  await refreshStaleStatistics(ctx.db);
  const summary = importer.summary;
  summary.files = files.length;
  summary.seconds = (performance.now() - started) / 1000;
  summary.resourcesPerSec = summary.seconds > 0 ? summary.resources / summary.seconds : 0;
  return summary;
}

/** Validation workers for an import of `total` resources, when they are worth their start-up. */
function validationPoolFor(total: number, options: ImportFilesOptions): ValidationPool | undefined {
  const size =
    options.validationWorkers ?? (total >= POOL_MIN_RESOURCES ? Math.max(1, availableParallelism() - 1) : 0);
  return size > 0 ? new ValidationPool(size) : undefined;
}

/** Imports ImportFiles one after another into one summary (also used by `medledger sync`). */
export class Importer {
  readonly summary: ImportSummary = emptySummary();
  readonly #service: FhirService;
  readonly #options: ImportFilesOptions;
  readonly #total: number;
  readonly #caches: ImportCaches = { identities: new Map(), conditionals: new Map() };
  /** Blind values of search index terms, for this import only (SearchIndexKey.blindMemoized). */
  readonly #blindMemo = new Map<string, Buffer>();
  readonly #audits: Promise<void>[] = [];

  /** `pool`: validation workers already started for this import (it closes them); else started on first use. */
  constructor(service: FhirService, options: ImportFilesOptions, total: number, pool?: ValidationPool) {
    this.#service = service;
    this.#options = options;
    this.#total = total;
    this.#pool = pool;
  }

  async importFile(file: ImportFile): Promise<void> {
    const ledger = await readLedger(this.#service.ctx.db, file.contentHash);
    const fullUrls = new Map<string, string>();
    for (const row of ledger.values()) if (row.full_url) fullUrls.set(row.full_url, row.reference);
    for (const failed of file.failed) {
      this.#fail(file, failed.unit, failed.resourceType, failed.reason);
    }
    const pending: ImportUnit[] = [];
    for (const unit of file.units) {
      const row = ledger.get(unit.unit);
      if (row) count(this.summary, row.resource_type, 'unchanged');
      else pending.push(unit);
    }
    this.#progress(file);
    if (pending.length === 0) return;
    const touched = new Set<string>();
    const before = { ...this.summary };
    const size = file.ndjson ? (this.#options.chunkSize ?? 500) : pending.length;
    for (let i = 0; i < pending.length; i += size) {
      await this.#importChunk(file, pending.slice(i, i + size), fullUrls, touched);
      this.#progress(file);
    }
    this.#audit(file, touched, this.summary.failed > before.failed);
  }

  async flushAudit(): Promise<void> {
    await Promise.all(this.#audits);
  }

  /** Stops the validation workers, if any were started. */
  async close(): Promise<void> {
    const pool = this.#pool;
    this.#pool = undefined;
    await pool?.close();
  }

  #pool: ValidationPool | undefined;

  /** The validation pool for this import, started on first use when it is worth its start-up. */
  #validationPool(): ValidationPool | undefined {
    this.#pool ??= validationPoolFor(this.#total, this.#options);
    return this.#pool;
  }

  async #importChunk(
    file: ImportFile,
    units: ImportUnit[],
    fullUrls: Map<string, string>,
    touched: Set<string>,
  ): Promise<void> {
    let results: UnitResult[];
    try {
      results = await this.#attempt(file, units, fullUrls, touched);
    } catch (error) {
      if (file.mode === 'batch' && units.length > 1) {
        // The database transaction failed as a whole (not one entry's validation): one by one.
        for (const unit of units) await this.#importChunk(file, [unit], fullUrls, touched);
        return;
      }
      const reason = error instanceof Error ? error.message : String(error);
      for (const unit of units) {
        const type = resourceTypeOf(unit.entry);
        this.#fail(
          file,
          unit.unit,
          type,
          file.mode === 'transaction' ? `transaction rolled back: ${reason}` : reason,
        );
      }
      return;
    }
    for (const [i, result] of results.entries()) {
      if (result.status === 'failed')
        this.#fail(file, (units[i] as ImportUnit).unit, result.resourceType, result.reason ?? 'failed');
      else count(this.summary, result.resourceType, result.status);
    }
  }

  /** One database transaction: prepare, run through the router, write the ledger and claims. */
  async #attempt(
    file: ImportFile,
    units: ImportUnit[],
    fullUrls: Map<string, string>,
    touched: Set<string>,
  ): Promise<UnitResult[]> {
    const repo = new VaultRepository(this.#service, OPEN_GUARD);
    repo.deferIndexWrites(this.#blindMemo);
    const pool = this.#validationPool();
    if (pool) repo.validateIn(pool);
    const committed = await repo.withTransaction(async (tx) => {
      const entries = units.map((u) => structuredClone(u.entry));
      const prepared = await prepareImportEntries(repo, entries, fullUrls, this.#caches);
      const results: (UnitResult | undefined)[] = prepared.results.map((r) => r && { ...r });
      const submitted = entries.flatMap((_, i) => (results[i] ? [] : [i]));
      const patients = new Set<string>();
      if (submitted.length > 0) {
        // Submitted as a batch inside this one database transaction; for a transaction Bundle any
        // failed entry throws, which rolls everything back (Medplum's transaction mode limits
        // conditional creates to 8 entries, which real EHR bundles exceed).
        const bundle: Bundle = {
          resourceType: 'Bundle',
          type: 'batch',
          entry: submitted.map((i) => entries[i] as BundleEntry),
        };
        const [outcome, response] = await this.#service.router.handleRequest(
          {
            method: 'POST',
            url: '',
            pathname: '',
            params: {},
            query: {},
            body: bundle,
            headers: {},
            config: { transactions: true },
          },
          repo,
        );
        if (!isOk(outcome)) throw new OperationOutcomeError(badRequest(reasonOf(outcome)));
        const answers = (response as Bundle | undefined)?.entry ?? [];
        for (const [k, i] of submitted.entries()) {
          const entry = entries[i] as BundleEntry;
          const answer = answers[k];
          const status = Number(answer?.response?.status ?? 500);
          const resourceType = resourceTypeOf(entry);
          if (!answer || status >= 400) {
            const reason = reasonOf(answer?.response?.outcome as OperationOutcome | undefined);
            // An OperationOutcomeError, so that it leaves the repository's transaction as it is
            // (anything else becomes a generic "Internal server error" there).
            if (file.mode === 'transaction')
              throw new OperationOutcomeError(badRequest(`entry ${units[i]?.unit.slice(2)}: ${reason}`));
            results[i] = { status: 'failed', resourceType, reason };
            continue;
          }
          const reference = answer.response?.location ?? '';
          const method = entry.request?.method;
          results[i] = {
            status: status === 201 ? 'created' : method === 'POST' ? 'unchanged' : 'updated',
            resourceType,
            reference,
          };
          if (answer.resource) patientsIn(answer.resource, patients);
        }
      }
      // Entries merged into another entry of this chunk take its reference.
      for (const [i, j] of prepared.aliases) {
        const target = results[j];
        results[i] = target?.reference
          ? {
              status: 'unchanged',
              resourceType: resourceTypeOf(entries[i] as BundleEntry),
              reference: target.reference,
            }
          : {
              status: 'failed',
              resourceType: resourceTypeOf(entries[i] as BundleEntry),
              reason: 'duplicate of a failed entry',
            };
      }
      const done = results as UnitResult[];
      const rows: LedgerRow[] = [];
      for (const [i, result] of done.entries()) {
        if (result.status === 'failed' || !result.reference) continue;
        const fullUrl = units[i]?.entry.fullUrl;
        rows.push({
          unit: (units[i] as ImportUnit).unit,
          resource_type: result.resourceType,
          reference: result.reference,
          full_url: fullUrl ?? null,
        });
      }
      await writeLedger(tx, file.contentHash, rows);
      const claims = [...prepared.claims]
        .filter(([i]) => done[i]?.status === 'created')
        .map(([i, claim]) => ({ ...claim, patientId: (done[i]?.reference ?? '').replace(/^Patient\//, '') }));
      await storeClaims(tx, claims);
      return { results: done, rows, claims, patients, ...prepared.learned(done) };
    });
    // Committed: only now may later chunks rely on what this one created.
    for (const row of committed.rows) if (row.full_url) fullUrls.set(row.full_url, row.reference);
    for (const [key, reference] of committed.identities)
      if (!this.#caches.identities.has(key)) this.#caches.identities.set(key, reference);
    for (const [query, reference] of committed.conditionals) this.#caches.conditionals.set(query, reference);
    for (const claim of committed.claims)
      this.summary.claims.push({
        patient: `Patient/${claim.patientId}`,
        address: claim.generatedAddress,
        claimCode: claim.claimCode,
      });
    for (const patient of committed.patients) touched.add(patient);
    return committed.results;
  }

  #fail(file: ImportFile, unit: string, resourceType: string, reason: string): void {
    count(this.summary, resourceType, 'failed');
    const n = Number(unit.slice(2));
    this.summary.failures.push({
      file: file.path,
      ...(unit.startsWith('l:') ? { line: n } : { entry: n }),
      resourceType,
      reason,
    });
  }

  #progress(file: ImportFile): void {
    this.#options.onProgress?.({ done: this.summary.resources, total: this.#total, file: file.path });
  }

  /**
   * The accounting of an import: one event per patient the file touched (each finds it in their
   * access report), or one without a patient when it touched none.
   */
  #audit(file: ImportFile, patients: Set<string>, failed: boolean): void {
    const list = [...patients].sort();
    const event = (patient: string | undefined): AuditEventInput => ({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: file.mode === 'transaction' ? 'transaction' : 'batch',
      action: 'C',
      recorded: new Date().toISOString(),
      outcome: failed ? '4' : '0',
      outcomeDesc: `medledger import ${file.path}${list.length > 1 ? ` (${list.length} patients)` : ''}`,
      agent: { user: this.#options.operator ?? `cli:${userInfo().username}`, clientId: 'medledger-import' },
      source: { observer: this.#service.ctx.identity.account.address.toLowerCase() },
      entity: {
        ...(patient === undefined ? {} : { patient }),
        resources: [`urn:medledger:import:sha256:${file.contentHash}`],
      },
      purposeOfUse: 'HOPERAT',
    });
    const events = list.length === 0 ? [event(undefined)] : list.map(event);
    this.#audits.push(this.#service.ctx.audit.appendMany(events));
  }
}

const PATIENT_REFERENCE = /"reference":"Patient\/([A-Za-z0-9\-.]{1,64})"/g;

function patientsIn(resource: { resourceType: string; id?: string }, into: Set<string>): void {
  if (resource.resourceType === 'Patient' && resource.id) into.add(`Patient/${resource.id}`);
  for (const match of JSON.stringify(resource).matchAll(PATIENT_REFERENCE)) into.add(`Patient/${match[1]}`);
}

function reasonOf(outcome: OperationOutcome | undefined): string {
  const issues = outcome?.issue ?? [];
  if (issues.length === 0) return 'failed';
  return issues
    .filter((i) => i.severity === 'error' || i.severity === 'fatal')
    .map((i) => {
      const text = i.details?.text ?? i.diagnostics ?? i.code;
      const where = i.expression?.[0];
      return where ? `${text} (${where})` : text;
    })
    .join('; ');
}
