/**
 * Runs one bulk export job: selects the versions of its snapshot, reads each through the vault
 * (decrypted and verified against its commitment), keeps only what the requester may read (the
 * same per-resource decision as the REST API: scopes, the patient's own compartment, this
 * institution's treatment relationship, or consent on chain), writes NDJSON files sealed at rest,
 * and finally appends the audit events: one per patient whose data was disclosed (so it appears
 * in their access report) and one carrying every file's SHA-256 (anchored in the audit log's
 * Merkle batches, so a recipient can prove the set of files with `AuditEvent/{id}/$proof`).
 * @see https://hl7.org/fhir/uv/bulkdata/export.html
 */
import type { Group, OperationOutcome, Resource } from '@medplum/fhirtypes';
import { auditContextOf } from '../../audit/AuditContext.ts';
import type { AuditEventInput } from '../../audit/AuditSink.ts';
import { readVerifiedAuditEvents } from '../../audit/readVerifiedAuditEvents.ts';
import type { FhirService } from '../FhirService.ts';
import { compartmentPatients } from '../patientCompartment.ts';
import { BulkExportError } from './BulkExportError.ts';
import { exportAuditAgent, exportFileEntity, exportJobUrn, manifestUrn } from './exportAudit.ts';
import {
  type ExportFileInfo,
  type ExportJob,
  principalOf,
  saveExportFile,
  updateExportJob,
} from './exportJobs.ts';
import { selectExportVersions } from './selectExportVersions.ts';

export interface RunExportJobOptions {
  signal?: AbortSignal;
  /** Most resources in one NDJSON file. Default 10,000. */
  maxLinesPerFile?: number;
}

export interface RunExportJobResult {
  files: ExportFileInfo[];
  resources: number;
  /** `AuditEvent/{id}` holding the file hashes. */
  auditEvent: string;
}

/** Decisions last this long after kick-off even if the access token expires meanwhile. */
const DECISION_GRACE_SECONDS = 3600;

export async function runExportJob(
  service: FhirService,
  job: ExportJob,
  options: RunExportJobOptions = {},
): Promise<RunExportJobResult> {
  const { ctx } = service;
  const { parameters } = job.request;
  const maxLines = options.maxLinesPerFile ?? 10_000;
  // The token was valid at kick-off; the job acts on that request for a bounded time, while
  // consent is decided per resource as it is read (a revocation meanwhile still applies).
  const stored = principalOf(job.request);
  const principal = {
    ...stored,
    expiresAt: Math.max(
      stored.expiresAt,
      Math.floor(Date.parse(job.transactionTime) / 1000) + DECISION_GRACE_SECONDS,
    ),
  };
  // Each version is decided for all its patients; the export never opens break-glass (only a
  // request's own decision for the one patient it names may).
  const guard = service.guardFor(principal, { purpose: job.request.purpose });

  let patients: string[] | undefined;
  if (parameters.level === 'group') patients = await groupMembers(service, parameters.groupId ?? '');
  else if (parameters.level === 'patient' && principal.kind === 'patient' && principal.patient)
    patients = [principal.patient];
  const versions = await selectExportVersions(service, ctx.db, {
    parameters,
    transactionTime: job.transactionTime,
    principal,
    ...(patients ? { patients } : {}),
  });

  const files: ExportFileInfo[] = [];
  const open = new Map<string, { lines: string[]; part: number }>();
  const errors: string[] = [];
  const disclosed = new Map<string, number>();
  let resources = 0;
  const flush = async (type: string) => {
    const file = open.get(type);
    if (!file || file.lines.length === 0) return;
    file.part++;
    const bytes = Buffer.from(`${file.lines.join('\n')}\n`, 'utf8');
    files.push(
      await saveExportFile(ctx.db, ctx.keyring, job.id, {
        name: `${type}-${file.part}.ndjson`,
        kind: 'output',
        resourceType: type,
        count: file.lines.length,
        bytes,
      }),
    );
    file.lines = [];
  };

  for (const [i, version] of versions.entries()) {
    if (options.signal?.aborted) throw new BulkExportError('ERR_BULK_FAILED', 'the export was cancelled');
    let resource: Resource;
    try {
      resource = (await ctx.vault.vread(version.resourceType, version.id, version.versionId))
        .resource as unknown as Resource;
    } catch (error) {
      // An integrity failure is reported, never served; the export goes on.
      errors.push(JSON.stringify(errorOutcome(`${version.resourceType}/${version.id}`, error)));
      continue;
    }
    if (!(await guard.allows(resource, 'r', ctx.db))) continue;
    const inCompartment = compartmentPatients(resource);
    if (parameters.level !== 'system') {
      if (inCompartment.length === 0) continue;
      if (patients && !inCompartment.some((p) => patients.includes(p))) continue;
    }
    for (const p of inCompartment) disclosed.set(p, (disclosed.get(p) ?? 0) + 1);
    const file = open.get(resource.resourceType) ?? { lines: [], part: 0 };
    open.set(resource.resourceType, file);
    file.lines.push(JSON.stringify(resource));
    resources++;
    if (file.lines.length >= maxLines) await flush(resource.resourceType);
    if (i % 500 === 499)
      await updateExportJob(ctx.db, job.id, {
        progress: `${Math.round(((i + 1) / versions.length) * 100)}%`,
      });
  }
  for (const type of [...open.keys()].sort()) await flush(type);
  if (errors.length > 0) {
    files.push(
      await saveExportFile(ctx.db, ctx.keyring, job.id, {
        name: 'OperationOutcome-1.ndjson',
        kind: 'error',
        resourceType: 'OperationOutcome',
        count: errors.length,
        bytes: Buffer.from(`${errors.join('\n')}\n`, 'utf8'),
      }),
    );
  }

  const auditEvent = await auditManifest(service, job, files, resources, disclosed);
  return { files, resources, auditEvent };
}

/** The patients a Group lists as members (`Group.member.entity` references to Patient). */
async function groupMembers(service: FhirService, groupId: string): Promise<string[]> {
  let group: Group;
  try {
    group = (await service.ctx.vault.read('Group', groupId)).resource as unknown as Group;
  } catch (error) {
    throw new BulkExportError('ERR_BULK_NOT_FOUND', `Group/${groupId} not found`, error);
  }
  const ids = (group.member ?? [])
    .filter((m) => !m.inactive)
    .map((m) => m.entity?.reference ?? '')
    .filter((r) => /^(.*\/)?Patient\/[A-Za-z0-9\-.]{1,64}$/.test(r))
    .map((r) => r.replace(/^.*Patient\//, ''));
  return [...new Set(ids)];
}

async function auditManifest(
  service: FhirService,
  job: ExportJob,
  files: readonly ExportFileInfo[],
  resources: number,
  disclosed: ReadonlyMap<string, number>,
): Promise<string> {
  const { ctx } = service;
  const principal = job.request.principal;
  const recorded = new Date().toISOString();
  const base = {
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    subtype: 'operation',
    recorded,
    outcome: '0',
    agent: exportAuditAgent(principal),
    source: { observer: ctx.identity.account.address.toLowerCase() },
    purposeOfUse: job.request.purpose,
  } as const;
  // Accounting of disclosures: one event per patient whose records left in this export.
  const perPatient: AuditEventInput[] = [...disclosed.entries()].sort().map(([patient, count]) => ({
    ...base,
    action: 'R',
    outcomeDesc: `bulk export ${job.id}: ${count} resources of this patient`,
    entity: { patient: `Patient/${patient}`, resources: [exportJobUrn(job.id)] },
  }));
  const manifest: AuditEventInput = {
    ...base,
    action: 'E',
    outcomeDesc: `bulk export ${job.id} completed: ${resources} resources in ${files.length} files`,
    entity: { resources: [manifestUrn(job.id), ...files.map(exportFileEntity)] },
  };
  await ctx.audit.appendMany([...perPatient, manifest]);
  // The sink does not return sequence numbers: find the event by its time and its unique entity.
  const found = await readVerifiedAuditEvents(
    auditContextOf(ctx),
    "e.recorded = $1::timestamptz AND e.action = 'E'",
    'ORDER BY e.seq DESC',
    [recorded],
  );
  const event = found.find((e) =>
    e.resource.entity.some(
      (x) => (x.what as { reference?: string } | undefined)?.reference === manifestUrn(job.id),
    ),
  );
  if (!event)
    throw new BulkExportError('ERR_BULK_FAILED', 'the manifest audit event was not found after writing it');
  return `AuditEvent/${event.resource.id}`;
}

function errorOutcome(reference: string, error: unknown): OperationOutcome {
  const code = (error as { code?: string }).code ?? 'ERR_EXPORT';
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: 'processing',
        details: { text: `${reference} could not be exported (${code})` },
        expression: [reference],
      },
    ],
  };
}
