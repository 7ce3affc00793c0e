/**
 * `GET /fhir/Patient/{id}/$access-report?start=&end=`: the accounting of disclosures (HIPAA 45 CFR
 * 164.528) as a Bundle of the verified AuditEvents about one patient, each entry carrying what the
 * patient needs to check it alone (docs/audit.md, src/verify/standaloneReportCheck.ts): the salt and
 * commitments to recompute the leaf from the event JSON, the Merkle proof, the batch root, and the
 * chain transaction that anchored it. Reading the report is itself appended as an audit event.
 * @see https://www.ecfr.gov/current/title-45/section-164.528
 */
import type { AuditContext } from './AuditContext.ts';
import type { AuditAgent } from './AuditSink.ts';
import { type AnchorProof, anchorProof, type BatchAnchorRow } from './anchorProof.ts';
import { dateBounds } from './auditDateRange.ts';
import { blindIndex, loadAuditIndexKey } from './blindIndex.ts';
import { readVerifiedAuditEvents } from './readVerifiedAuditEvents.ts';
import { patientReference } from './searchAuditEvents.ts';
import { type AuditEventResource, MEDLEDGER_EXTENSION } from './toAuditEventResource.ts';

export const ACCESS_REPORT_EXTENSION = `${MEDLEDGER_EXTENSION}/access-report`;
export const AUDIT_EVENT_PROOF_EXTENSION = `${MEDLEDGER_EXTENSION}/audit-event-proof`;

export interface AccessReportParameters {
  /** `123` or `Patient/123`. */
  patientId: string;
  /** FHIR date (any precision): events recorded at or after its start. */
  start?: string;
  /** FHIR date (any precision): events recorded before its end. */
  end?: string;
  /** Who asked (audited). */
  agent?: AuditAgent;
  /** Purpose of the request (audited). Default PATRQT (patient requested). */
  purposeOfUse?: string;
  /** The caller's access check already appended this request's audit event (the FHIR route). */
  alreadyAudited?: boolean;
}

export interface AccessReportBundle {
  resourceType: 'Bundle';
  type: 'collection';
  timestamp: string;
  meta: { extension: Record<string, unknown>[] };
  entry: { fullUrl: string; resource: AuditEventResource; extension: Record<string, unknown>[] }[];
}

export async function accessReport(
  ctx: AuditContext,
  parameters: AccessReportParameters,
): Promise<AccessReportBundle> {
  const patient = patientReference(parameters.patientId);
  const key = await loadAuditIndexKey(ctx.db, ctx.keyring);
  const conditions = ['(e.patient_index = $1 OR e.patient_indexes @> ARRAY[$1::bytea])'];
  const params: (Uint8Array | string)[] = [blindIndex(key, 'patient', patient)];
  if (parameters.start !== undefined) {
    params.push(dateBounds(parameters.start)[0].toISOString());
    conditions.push(`e.recorded >= $${params.length}::timestamptz`);
  }
  if (parameters.end !== undefined) {
    params.push(dateBounds(parameters.end)[1].toISOString());
    conditions.push(`e.recorded < $${params.length}::timestamptz`);
  }
  const rows = await readVerifiedAuditEvents(ctx, conditions.join(' AND '), 'ORDER BY e.seq', params);
  const cache = new Map<string, Promise<BatchAnchorRow | undefined>>();
  const entry: AccessReportBundle['entry'] = [];
  for (const { row, resource, salt, ciphertextHash } of rows) {
    const proof = await anchorProof(ctx.db, ctx.anchoring, `AuditEvent/${row.seq}`, 1, row, cache);
    entry.push({
      fullUrl: `AuditEvent/${row.seq}`,
      resource,
      extension: [proofExtension(row.seq, salt, row.content_commitment, ciphertextHash, proof)],
    });
  }
  const { chainId, anchors, member, rpcUrl } = ctx.anchoring;
  const reportParts: Record<string, unknown>[] = [
    { url: 'patient', valueReference: { reference: patient } },
    { url: 'chainId', valueInteger: chainId },
    { url: 'anchors', valueString: anchors },
    { url: 'member', valueString: member },
  ];
  if (parameters.start !== undefined) reportParts.push({ url: 'start', valueString: parameters.start });
  if (parameters.end !== undefined) reportParts.push({ url: 'end', valueString: parameters.end });
  if (rpcUrl !== undefined) reportParts.push({ url: 'rpcUrl', valueUrl: rpcUrl });

  const query = [
    parameters.start === undefined ? undefined : `start=${parameters.start}`,
    parameters.end === undefined ? undefined : `end=${parameters.end}`,
  ].filter((q): q is string => q !== undefined);
  if (!parameters.alreadyAudited)
    await ctx.audit.append({
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
      subtype: 'operation',
      action: 'E',
      recorded: new Date().toISOString(),
      outcome: '0',
      outcomeDesc: `access report of ${entry.length} events`,
      agent: parameters.agent ?? {},
      source: { observer: member.toLowerCase() },
      entity: {
        patient,
        resources: [`${patient}/$access-report`],
        ...(query.length > 0 ? { query: query.join('&') } : {}),
      },
      purposeOfUse: parameters.purposeOfUse ?? 'PATRQT',
    });
  return {
    resourceType: 'Bundle',
    type: 'collection',
    timestamp: new Date().toISOString(),
    meta: { extension: [{ url: ACCESS_REPORT_EXTENSION, extension: reportParts }] },
    entry,
  };
}

function proofExtension(
  seq: string,
  salt: Buffer,
  commitment: Uint8Array,
  ciphertextHash: Uint8Array,
  proof: AnchorProof,
): Record<string, unknown> {
  const hex = (bytes: Uint8Array) => `0x${Buffer.from(bytes).toString('hex')}`;
  const parts: Record<string, unknown>[] = [
    { url: 'status', valueCode: proof.status },
    { url: 'seq', valueString: seq },
    { url: 'salt', valueString: hex(salt) },
    { url: 'contentCommitment', valueString: hex(commitment) },
    { url: 'ciphertextHash', valueString: hex(ciphertextHash) },
    { url: 'leaf', valueString: proof.leaf },
  ];
  if (proof.batchSequence !== undefined)
    parts.push({ url: 'batchSequence', valueString: proof.batchSequence });
  if (proof.batchIndex !== undefined) parts.push({ url: 'batchIndex', valueInteger: proof.batchIndex });
  for (const node of proof.proof ?? []) parts.push({ url: 'proof', valueString: node });
  if (proof.root !== undefined) parts.push({ url: 'root', valueString: proof.root });
  if (proof.txHash !== undefined) parts.push({ url: 'txHash', valueString: proof.txHash });
  if (proof.blockNumber !== undefined) parts.push({ url: 'blockNumber', valueString: proof.blockNumber });
  parts.push(
    { url: 'chainId', valueInteger: proof.chainId },
    { url: 'anchors', valueString: proof.anchors },
    { url: 'member', valueString: proof.member },
  );
  return { url: AUDIT_EVENT_PROOF_EXTENSION, extension: parts };
}
