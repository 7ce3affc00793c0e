/**
 * `medledger sync --from URL`: pulls what changed on a source FHIR server since the last sync and
 * writes it through the import path (src/ehr/importFiles.ts: Medplum's batch processing over
 * VaultRepository, so validation, encryption, commitment, the search index, anchoring and one
 * audit event per page). Resources keep the source's ids (`PUT Type/id`), so references between
 * them hold and a change on the source updates the same resource here.
 *
 * Idempotent: a resource whose source version (`meta.versionId` + `meta.lastUpdated`) was already
 * written is skipped; the high-water mark (newest `meta.lastUpdated` seen) advances only after a
 * run without failures, so a failed resource is asked for again next time. The mark's instant is
 * itself asked again (`ge`): a resource written at the same millisecond after the last run is
 * not missed, and those already written are skipped by version.
 *
 * Deletions: a search by `_lastUpdated` never returns what the source deleted, and FHIR's
 * type-level `_history` (which would) is optional and missing from many EHR APIs. So after a
 * complete run medledger lists the ids the source holds now, per type, and deletes here (a new,
 * deleted version, audited) what it synced from that source earlier and the source no longer
 * has. Only a complete listing counts (every page, and the searchset's `total` where given);
 * otherwise the type is left as it is and reported unchecked.
 */
import { createHash } from 'node:crypto';
import type { Resource } from '@medplum/fhirtypes';
import type { AuditEventInput } from '../../audit/AuditSink.ts';
import type { NodeContext } from '../../context/NodeContext.ts';
import { createFhirService } from '../../fhir/createFhirService.ts';
import type { FhirService } from '../../fhir/FhirService.ts';
import { compartmentPatients } from '../../fhir/patientCompartment.ts';
import { OPEN_GUARD } from '../../fhir/ResourceGuard.ts';
import { VaultRepository } from '../../fhir/VaultRepository.ts';
import { count, type ImportSummary } from '../ImportSummary.ts';
import { Importer, type ImportProgress } from '../importFiles.ts';
import { asRequest, type ImportFile } from '../readImportFile.ts';
import { SyncError } from './SyncError.ts';
import { type SourceAuth, sourceAuthorization } from './sourceAuthorization.ts';
import { changedResources, type SourceClient, sourceIds, sourceResourceTypes } from './sourceClient.ts';

export interface SyncOptions {
  /** The source's FHIR base URL. */
  from: string;
  auth?: SourceAuth;
  /** Resource types to pull; default: every type the source can search. */
  types?: readonly string[];
  pageSize?: number;
  /** Who runs the sync, for the audit events. */
  operator?: string;
  onProgress?: (progress: ImportProgress) => void;
  /** Stops between pages; the mark then stays where it was (what was written is skipped next time). */
  signal?: AbortSignal;
  /** Delete here what the source no longer holds (default true). */
  deletions?: boolean;
}

export interface SyncSummary extends ImportSummary {
  source: string;
  /** The mark this run asked from (undefined: first sync, everything). */
  since: string | null;
  /** The mark recorded for the next run. */
  highWater: string | null;
  types: string[];
  /** Resources the source returned (written, or skipped as already written). */
  fetched: number;
  pages: number;
  /** Whether the run was stopped by its signal before it finished. */
  interrupted: boolean;
  /** Resources deleted here because the source no longer holds them, per type. */
  deletedByType: Record<string, number>;
  deleted: number;
  /** Types whose id listing was incomplete, so deletions were not looked for. */
  deletionsUnchecked: string[];
}

export async function syncFromSource(ctx: NodeContext, options: SyncOptions): Promise<SyncSummary> {
  const started = performance.now();
  const source = normalizeSource(options.from);
  const client: SourceClient = {
    baseUrl: source,
    authorize: sourceAuthorization(options.auth ?? { kind: 'none' }),
    ...(options.pageSize ? { pageSize: options.pageSize } : {}),
  };
  const [state] = await ctx.db.query<{ high_water: string | null }>(
    'SELECT high_water FROM ehr_sync_sources WHERE source = $1',
    [source],
  );
  const since = state?.high_water ?? null;
  const types = options.types?.length ? [...options.types] : await sourceResourceTypes(client);
  const service = await createFhirService(ctx);
  const importer = new Importer(
    service,
    {
      operator: options.operator ?? 'medledger-sync',
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    },
    0,
  );
  let highWater = since;
  let fetched = 0;
  let pages = 0;
  let interrupted = false;
  for (const type of types) {
    if (options.signal?.aborted) break;
    for await (const page of changedResources(client, type, since ?? undefined)) {
      if (options.signal?.aborted) {
        interrupted = true;
        break;
      }
      pages++;
      fetched += page.length;
      for (const r of page) {
        const at = r.meta?.lastUpdated;
        if (at && (!highWater || Date.parse(at) > Date.parse(highWater))) highWater = at;
      }
      const written = await writtenVersions(ctx, source, type, page);
      const changed = page.filter((r) => written.get(r.id ?? '') !== sourceVersion(r));
      for (let i = changed.length; i < page.length; i++) count(importer.summary, type, 'unchanged');
      if (changed.length > 0) await importPage(ctx, importer, source, type, pages, changed);
    }
  }
  await importer.flushAudit();
  await importer.close();
  const summary = importer.summary;
  const complete = summary.failed === 0 && !interrupted && !options.signal?.aborted;
  const deletedByType: Record<string, number> = {};
  const deletionsUnchecked: string[] = [];
  if (complete && options.deletions !== false) {
    // Only types this source has given us something of (and not all of it deleted since).
    const held = await ctx.db.query<{ resource_type: string }>(
      `SELECT DISTINCT resource_type FROM ehr_sync_resources WHERE source = $1 AND source_version <> $2`,
      [source, DELETED],
    );
    const heldTypes = new Set(held.map((r) => r.resource_type));
    for (const type of types) {
      if (!heldTypes.has(type)) continue;
      const present = await sourceIds(client, type);
      if (!present) {
        deletionsUnchecked.push(type);
        continue;
      }
      const gone = await deleteGone(service, source, type, present, options.operator ?? 'medledger-sync');
      if (gone > 0) deletedByType[type] = gone;
    }
  }
  await ctx.db.query(
    `INSERT INTO ehr_sync_sources (source, high_water, last_run_at) VALUES ($1, $2, now())
     ON CONFLICT (source) DO UPDATE SET last_run_at = now(),
       high_water = CASE WHEN $3 THEN EXCLUDED.high_water ELSE ehr_sync_sources.high_water END`,
    [source, complete ? highWater : since, complete],
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    ...summary,
    seconds,
    resourcesPerSec: seconds > 0 ? summary.resources / seconds : 0,
    source,
    since,
    highWater: complete ? highWater : since,
    types,
    fetched,
    pages,
    interrupted: interrupted || (options.signal?.aborted ?? false),
    deletedByType,
    deleted: Object.values(deletedByType).reduce((n, k) => n + k, 0),
    deletionsUnchecked,
  };
}

/**
 * Deletes here the resources of `type` synced from `source` that it no longer holds: each a new
 * deleted version through the FHIR repository (vault and search index), then marked deleted in
 * the sync table (a resource that reappears at the source has another version, so it is written
 * again). Audited per patient: each patient whose compartment held deleted resources gets one
 * event naming them (so the deletion shows in that patient's audit trail and access report), and
 * resources in no patient's compartment one event without a patient. Idempotent: deleting a
 * deleted resource changes nothing.
 */
async function deleteGone(
  service: FhirService,
  source: string,
  type: string,
  present: ReadonlySet<string>,
  operator: string,
): Promise<number> {
  const ctx = service.ctx;
  const rows = await ctx.db.query<{ source_id: string }>(
    `SELECT source_id FROM ehr_sync_resources
     WHERE source = $1 AND resource_type = $2 AND source_version <> $3`,
    [source, type, DELETED],
  );
  const gone = rows.map((r) => r.source_id).filter((id) => !present.has(id));
  if (gone.length === 0) return 0;
  // Whose compartment each one is in, read (and verified) before it is deleted.
  const current = await ctx.vault.readCurrentMany(type, gone);
  const byPatient = new Map<string, string[]>(); // 'Patient/id', or '' for none
  for (const id of gone) {
    const resource = current.get(id)?.resource;
    const patients = resource ? compartmentPatients(resource as Resource) : [];
    for (const patient of patients.length > 0 ? patients.map((p) => `Patient/${p}`) : ['']) {
      const references = byPatient.get(patient) ?? [];
      references.push(`${type}/${id}`);
      byPatient.set(patient, references);
    }
  }
  const repo = new VaultRepository(service, OPEN_GUARD);
  for (const id of gone) await repo.deleteResource(type, id);
  await ctx.db.query(
    `UPDATE ehr_sync_resources SET source_version = $4, synced_at = now()
     WHERE source = $1 AND resource_type = $2 AND source_id = ANY($3::text[])`,
    [source, type, gone, DELETED],
  );
  const recorded = new Date().toISOString();
  const events = [...byPatient].map(
    ([patient, references]): AuditEventInput => ({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: 'delete',
      action: 'D',
      recorded,
      outcome: '0',
      outcomeDesc: `medledger sync: deleted at the source ${source}`,
      agent: { user: operator, clientId: 'medledger-sync' },
      source: { observer: ctx.identity.account.address.toLowerCase() },
      entity: { ...(patient ? { patient } : {}), resources: references.sort() },
      purposeOfUse: 'HOPERAT',
    }),
  );
  await ctx.audit.appendMany(events);
  return gone.length;
}

/** `source_version` of a resource the source deleted. */
const DELETED = 'deleted';

/** One page of changed resources through the import path, then their source versions recorded. */
async function importPage(
  ctx: NodeContext,
  importer: Importer,
  source: string,
  type: string,
  page: number,
  resources: Resource[],
): Promise<void> {
  const units = resources.map((r, i) => ({
    unit: `l:${i + 1}`,
    line: i + 1,
    entry: asRequest(structuredClone(r)),
  }));
  const file: ImportFile = {
    path: `${source}/${type} (sync page ${page})`,
    // The source versions are part of the hash: the same content at a later version is new work.
    contentHash: createHash('sha256').update(JSON.stringify(resources)).digest('hex'),
    mode: 'batch',
    ndjson: true,
    units,
    failed: [],
  };
  const existing = await storedIds(ctx, type, resources);
  const summary = importer.summary;
  const counted = { ...(summary.byType[type] ?? { created: 0, updated: 0, unchanged: 0, failed: 0 }) };
  const before = summary.failures.length;
  await importer.importFile(file);
  const failedLines = new Set(
    importer.summary.failures.slice(before).flatMap((f) => (f.file === file.path && f.line ? [f.line] : [])),
  );
  const done = resources.filter((_, i) => !failedLines.has(i + 1));
  // The router answers a PUT that creates like an update: created is what was not stored before.
  const byType = summary.byType[type];
  if (byType) {
    const fresh = done.filter((r) => !existing.has(r.id ?? '')).length;
    const shift = fresh - (byType.created - counted.created);
    byType.created += shift;
    byType.updated -= shift;
    summary.created += shift;
    summary.updated -= shift;
  }
  if (done.length === 0) return;
  await ctx.db.query(
    `INSERT INTO ehr_sync_resources (source, resource_type, source_id, source_version)
     SELECT $1, $2, u.id, u.version FROM unnest($3::text[], $4::text[]) AS u(id, version)
     ON CONFLICT (source, resource_type, source_id) DO UPDATE SET source_version = EXCLUDED.source_version, synced_at = now()`,
    [source, type, done.map((r) => r.id ?? ''), done.map(sourceVersion)],
  );
}

async function storedIds(ctx: NodeContext, type: string, page: readonly Resource[]): Promise<Set<string>> {
  return ctx.vault.reader().existing(
    type,
    page.flatMap((r) => (r.id ? [r.id] : [])),
  );
}

async function writtenVersions(
  ctx: NodeContext,
  source: string,
  type: string,
  page: readonly Resource[],
): Promise<Map<string, string>> {
  const ids = page.flatMap((r) => (r.id ? [r.id] : []));
  const rows = await ctx.db.query<{ source_id: string; source_version: string }>(
    `SELECT source_id, source_version FROM ehr_sync_resources
     WHERE source = $1 AND resource_type = $2 AND source_id = ANY($3::text[])`,
    [source, type, ids],
  );
  return new Map(rows.map((r) => [r.source_id, r.source_version]));
}

/** The source's version of a resource; without meta, its content (so a change is still seen). */
function sourceVersion(resource: Resource): string {
  const { versionId, lastUpdated } = resource.meta ?? {};
  if (versionId || lastUpdated) return `${versionId ?? ''}|${lastUpdated ?? ''}`;
  return `sha256:${createHash('sha256').update(JSON.stringify(resource)).digest('hex')}`;
}

/** The summary for people (stderr). */
export function formatSyncSummary(summary: SyncSummary): string {
  return [
    `synced from ${summary.source}${summary.since ? ` (changes since ${summary.since})` : ' (everything)'}: ` +
      `${summary.fetched} fetched in ${summary.pages} pages, ${summary.seconds.toFixed(1)} s`,
    `  created ${summary.created}, updated ${summary.updated}, unchanged ${summary.unchanged}, failed ${summary.failed}, ` +
      `deleted ${summary.deleted}` +
      (summary.interrupted ? ' (interrupted: the mark stays)' : ''),
    ...Object.entries(summary.deletedByType).map(
      ([type, n]) => `  ${type.padEnd(28)} ${n} deleted (no longer at the source)`,
    ),
    ...(summary.deletionsUnchecked.length > 0
      ? [`  deletions not checked (incomplete id listing): ${summary.deletionsUnchecked.join(', ')}`]
      : []),
    ...Object.entries(summary.byType)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(
        ([type, c]) =>
          `  ${type.padEnd(28)} ${c.created} created, ${c.updated} updated, ${c.unchanged} unchanged, ${c.failed} failed`,
      ),
    ...summary.failures
      .slice(0, 20)
      .map((f) => `  failed: ${f.file} #${f.line ?? f.entry ?? 0} (${f.resourceType}): ${f.reason}`),
    `  next sync asks for changes since ${summary.highWater ?? '(the beginning)'}`,
  ].join('\n');
}

export function normalizeSource(from: string): string {
  let url: URL;
  try {
    url = new URL(from);
  } catch {
    throw new SyncError('ERR_SYNC_OPTIONS', `--from must be a FHIR base URL, not ${from}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new SyncError('ERR_SYNC_OPTIONS', `--from must be an http(s) URL, not ${from}`);
  url.search = '';
  url.hash = '';
  return url.toString().replace(/\/+$/, '');
}
