/**
 * `GET /fhir/{type}/{id}/_history/{vid}/$proof`: a record version's leaf, inclusion proof, batch
 * root and anchoring transaction as a FHIR Parameters resource. Works for erased versions too: the
 * leaf stays provable after crypto-shredding.
 */

import { joinProofs, PROOF_COLUMNS } from '../vault/anchorKinds.ts';
import type { AuditContext } from './AuditContext.ts';
import { anchorProof, proofParameters } from './anchorProof.ts';
import type { AuditEventProofResult } from './auditEventProof.ts';
import { NotFoundError } from './errors.ts';

export async function recordVersionProof(
  ctx: AuditContext,
  resourceType: string,
  id: string,
  versionId: number | string,
): Promise<AuditEventProofResult> {
  const version = Number(versionId);
  const subject = `${resourceType}/${id}/_history/${versionId}`;
  if (!Number.isInteger(version) || version < 1) throw new NotFoundError(`${subject} not found`);
  const [row] = await ctx.db.query<{
    leaf: Uint8Array;
    batch_sequence: string | null;
    batch_index: number | null;
    proof: Uint8Array | null;
  }>(
    `SELECT v.leaf, ${PROOF_COLUMNS} FROM record_versions v
     ${joinProofs(0, 'v')}
     WHERE v.resource_type = $1 AND v.resource_id = $2 AND v.version_id = $3`,
    [resourceType, id, version],
  );
  if (!row) throw new NotFoundError(`${subject} not found`);
  const proof = await anchorProof(ctx.db, ctx.anchoring, subject, 0, row);
  return { proof, parameters: proofParameters(proof) };
}
