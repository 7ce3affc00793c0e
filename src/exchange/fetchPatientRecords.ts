/**
 * What a clinician's `$everything` at this node adds from other custodians: for each custodian a
 * grant names (findCustodians), request the patient's records (requestRecords), verify every one
 * against the custodian's anchors (verifyDisclosure), and return the verified ones as Bundle
 * entries with their Provenance. Rejected records become integrity alerts and OperationOutcome
 * issues; records the custodian has not anchored yet are reported, not shown. Each custodian
 * call leaves one audit event here (the receipt), besides the one the custodian writes.
 */
import type { BundleEntry, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { AuditEventInput } from '../audit/AuditSink.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import { httpStatusOf } from '../errors/httpStatus.ts';
import type { Queryable } from '../store/db.ts';
import { ExchangeError, refusalIssueType } from './ExchangeError.ts';
import { type Custodian, findCustodians } from './findCustodians.ts';
import { provenanceOf } from './provenanceOf.ts';
import { requestRecords } from './requestRecords.ts';
import { type VerifiedRecord, verifyDisclosure } from './verifyDisclosure.ts';

export type ExchangeContext = Pick<NodeContext, 'db' | 'chain' | 'identity' | 'indexer' | 'audit'>;

export interface FetchPatientRecordsParameters {
  /** This node's id of the patient (audit events name it). */
  patientId: string;
  patientAddress: string;
  purpose: string;
}

export interface RemoteRecords {
  /** Verified resources (search mode `include`) and their Provenance. */
  entries: BundleEntry[];
  /** One per refused custodian, rejected record and group of pending records. */
  issues: OperationOutcomeIssue[];
}

export async function fetchPatientRecords(
  ctx: ExchangeContext,
  p: FetchPatientRecordsParameters,
): Promise<RemoteRecords> {
  const custodians = await findCustodians(ctx, p.patientAddress);
  const results = await Promise.all(custodians.map((custodian) => fromCustodian(ctx, custodian, p)));
  return {
    entries: results.flatMap((r) => r.entries),
    issues: results.flatMap((r) => r.issues),
  };
}

async function fromCustodian(
  ctx: ExchangeContext,
  custodian: Custodian,
  p: FetchPatientRecordsParameters,
): Promise<RemoteRecords> {
  const label = `${custodian.name} (${custodian.address})`;
  const issues: OperationOutcomeIssue[] = [];
  let verified: VerifiedRecord[] = [];
  try {
    const disclosure = await requestRecords(ctx, custodian, {
      patient: p.patientAddress,
      purpose: p.purpose,
    });
    const check = await verifyDisclosure(ctx, disclosure);
    verified = check.verified;
    for (const rejected of check.rejected) {
      await integrityAlert(ctx.db, custodian.address, rejected.reference, rejected.check);
      issues.push({
        severity: 'error',
        code: 'processing',
        details: {
          coding: [{ system: 'urn:medledger:error', code: 'ERR_EXCHANGE_INTEGRITY' }],
          text: `rejected ${rejected.reference} from ${label}: it does not match the custodian's anchored commitment (${rejected.check})`,
        },
        expression: [rejected.reference],
      });
    }
    if (disclosure.pending.length > 0)
      issues.push({
        severity: 'information',
        code: 'incomplete',
        details: {
          text: `${disclosure.pending.length} records at ${label} are not anchored on chain yet and were not shown; ask again once they are (usually seconds)`,
        },
      });
    await ctx.audit.append(
      receipt(ctx, custodian, p, check.rejected.length === 0 ? '0' : '4', verified, check.rejected.length),
    );
  } catch (error) {
    if (!(error instanceof ExchangeError)) throw error;
    issues.push({
      severity: httpStatusOf(error) >= 500 ? 'warning' : 'error',
      code: refusalIssueType(error),
      details: {
        coding: [{ system: 'urn:medledger:error', code: error.code }],
        text: `${label}: ${error.message}`,
      },
    });
    await ctx.audit.append(receipt(ctx, custodian, p, '4', [], 0, error.message));
  }
  return { entries: entriesOf(ctx, custodian, p, verified), issues };
}

function entriesOf(
  ctx: ExchangeContext,
  custodian: Custodian,
  p: FetchPatientRecordsParameters,
  verified: VerifiedRecord[],
): BundleEntry[] {
  const base = `${custodian.endpoint.replace(/\/+$/, '')}/fhir`;
  const recorded = new Date().toISOString();
  const entries: BundleEntry[] = verified.map(({ record }) => ({
    fullUrl: `${base}/${record.resourceType}/${record.id}`,
    resource: record.resource as unknown as Resource,
    search: { mode: 'include' },
  }));
  const byBatch = new Map<string, VerifiedRecord[]>();
  for (const v of verified) byBatch.set(v.batch.sequence, [...(byBatch.get(v.batch.sequence) ?? []), v]);
  for (const group of byBatch.values()) {
    const provenance = provenanceOf({
      custodian,
      receiver: ctx.identity.account.address.toLowerCase(),
      chainId: ctx.chain.addresses.chainId,
      anchors: ctx.chain.addresses.anchors,
      patient: p.patientAddress,
      grantCustodian: custodian.grantCustodian,
      batch: (group[0] as VerifiedRecord).batch,
      targets: group.map(({ record: r }) => `${base}/${r.resourceType}/${r.id}/_history/${r.versionId}`),
      recorded,
      purpose: p.purpose,
    });
    entries.push({
      fullUrl: `urn:uuid:${crypto.randomUUID()}`,
      resource: provenance,
      search: { mode: 'include' },
    });
  }
  return entries;
}

function receipt(
  ctx: ExchangeContext,
  custodian: Custodian,
  p: FetchPatientRecordsParameters,
  outcome: '0' | '4',
  verified: VerifiedRecord[],
  rejected: number,
  refusal?: string,
): AuditEventInput {
  return {
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    subtype: 'operation',
    action: 'R',
    recorded: new Date().toISOString(),
    outcome,
    outcomeDesc:
      refusal !== undefined
        ? `exchange with ${custodian.name} (${custodian.address}) failed: ${refusal}`
        : `received ${verified.length} verified records from ${custodian.name} (${custodian.address})${
            rejected > 0 ? `; rejected ${rejected} that did not match its anchors` : ''
          }`,
    agent: { address: custodian.address, clientId: `member:${custodian.address}` },
    source: { observer: ctx.identity.account.address.toLowerCase() },
    entity: {
      patient: `Patient/${p.patientId}`,
      resources: verified.map(
        ({ record: r }) => `${custodian.address}:${r.resourceType}/${r.id}/_history/${r.versionId}`,
      ),
      query: 'exchange=receipt',
    },
    purposeOfUse: p.purpose,
  };
}

async function integrityAlert(
  q: Queryable,
  custodian: string,
  reference: string,
  check: string,
): Promise<void> {
  const [resourceType, id, , version] = reference.split('/');
  await q
    .query(
      `INSERT INTO integrity_alerts (subject, resource_type, resource_id, version_id, code, detail)
       VALUES ('exchange', $1, $2, $3, 'ERR_EXCHANGE_INTEGRITY', $4)`,
      [
        resourceType ?? '',
        id ?? '',
        Number.isInteger(Number(version)) ? Number(version) : null,
        `from ${custodian}: ${check}`,
      ],
    )
    .catch(() => {});
}
