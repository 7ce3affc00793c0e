/**
 * `GET /fhir/AuditEvent/{id}/$proof`: the event's leaf, inclusion proof, batch root and anchoring
 * transaction as a FHIR Parameters resource (see {@link proofParameters}); `pending` while not on chain.
 */

import { joinProofs, PROOF_COLUMNS } from '../vault/anchorKinds.ts';
import { NotFoundError } from '../vault/errors.ts';
import type { AuditContext } from './AuditContext.ts';
import { type AnchorProof, anchorProof, proofParameters } from './anchorProof.ts';

export interface AuditEventProofResult {
  proof: AnchorProof;
  parameters: Record<string, unknown>;
}

export async function auditEventProof(ctx: AuditContext, id: string): Promise<AuditEventProofResult> {
  if (!/^[1-9]\d{0,18}$/.test(id)) throw new NotFoundError(`AuditEvent/${id} not found`);
  const [row] = await ctx.db.query<{
    leaf: Uint8Array;
    batch_sequence: string | null;
    batch_index: number | null;
    proof: Uint8Array | null;
  }>(
    `SELECT e.leaf, ${PROOF_COLUMNS} FROM audit_events e
     ${joinProofs(1, 'e')} WHERE e.seq = $1::bigint`,
    [id],
  );
  if (!row) throw new NotFoundError(`AuditEvent/${id} not found`);
  const proof = await anchorProof(ctx.db, ctx.anchoring, `AuditEvent/${id}`, 1, row);
  return { proof, parameters: proofParameters(proof) };
}
