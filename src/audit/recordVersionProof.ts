/**
 * `GET /fhir/{type}/{id}/_history/{vid}/$proof`: a record version's leaf, inclusion proof, batch
 * root and anchoring transaction as a FHIR Parameters resource. Works for erased versions too: the
 * leaf stays provable after crypto-shredding.
 */

import { NotFoundError } from '../vault/errors.ts';
import type { VaultReader } from '../vault/VaultReader.ts';
import type { AuditContext } from './AuditContext.ts';
import { anchorProof, proofParameters } from './anchorProof.ts';
import type { AuditEventProofResult } from './auditEventProof.ts';

export async function recordVersionProof(
  ctx: AuditContext,
  /** The vault's reader: the one door to stored versions. */
  versions: Pick<VaultReader, 'leafOf'>,
  resourceType: string,
  id: string,
  versionId: number | string,
): Promise<AuditEventProofResult> {
  const version = Number(versionId);
  const subject = `${resourceType}/${id}/_history/${versionId}`;
  if (!Number.isInteger(version) || version < 1) throw new NotFoundError(`${subject} not found`);
  const row = await versions.leafOf(resourceType, id, version);
  if (!row) throw new NotFoundError(`${subject} not found`);
  const proof = await anchorProof(ctx.db, ctx.anchoring, subject, 0, row);
  return { proof, parameters: proofParameters(proof) };
}
