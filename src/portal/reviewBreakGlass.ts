/**
 * A privacy officer's review of one break-glass opening (45 CFR 164.312(b): emergency access is
 * examined after the fact). The review is an audit event of its own (who, outcome and note,
 * encrypted and anchored like every event, in the patient's access report when the patient is
 * known here) and a row that takes the opening off the "to review" list. One review per opening.
 */
import { auditDecision } from '../access/auditDecision.ts';
import type { Principal } from '../access/Principal.ts';
import { patientIdByAddress } from '../fhir/consent/consentResources.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import { type BreakGlassReview, REVIEW_OUTCOMES, type ReviewOutcome } from './PortalApi.ts';
import { PortalError } from './PortalError.ts';

const TX_HASH = /^0x[0-9a-f]{64}$/;
const MAX_NOTE = 2000;

export async function reviewBreakGlass(
  service: FhirService,
  officer: Principal,
  txHash: string,
  body: unknown,
  network: string,
): Promise<BreakGlassReview> {
  const hash = txHash.toLowerCase();
  if (!TX_HASH.test(hash))
    throw new PortalError('ERR_PORTAL_INVALID', 'txHash must be a 0x-prefixed 32-byte transaction hash');
  const { outcome, note } = (body ?? {}) as { outcome?: unknown; note?: unknown };
  if (!REVIEW_OUTCOMES.includes(outcome as ReviewOutcome))
    throw new PortalError('ERR_PORTAL_INVALID', `outcome must be one of ${REVIEW_OUTCOMES.join(', ')}`);
  if (note !== undefined && (typeof note !== 'string' || note.length > MAX_NOTE))
    throw new PortalError('ERR_PORTAL_INVALID', `note must be a string of at most ${MAX_NOTE} characters`);
  const { db } = service.ctx;
  const [opening] = await db.query<{ patient: string }>(
    'SELECT patient FROM chain_emergency_access WHERE lower(tx_hash) = $1 LIMIT 1',
    [hash],
  );
  if (!opening)
    throw new PortalError('ERR_PORTAL_NOT_FOUND', `no break-glass opening in transaction ${hash}`);
  const [done] = await db.query('SELECT 1 FROM break_glass_reviews WHERE tx_hash = $1', [hash]);
  if (done) throw new PortalError('ERR_PORTAL_CONFLICT', `break-glass opening ${hash} was already reviewed`);
  const patientId = await patientIdByAddress(service, opening.patient);
  const text = typeof note === 'string' && note.trim() ? `: ${note.trim()}` : '';
  await service.ctx.audit.append(
    auditDecision({
      principal: officer,
      request: { resourceType: 'Basic', interaction: 'u', ...(patientId ? { patientId } : {}) },
      decision: {
        allowed: true,
        status: 200,
        reason: `break-glass review of ${hash}: ${outcome}${text}`,
        basis: 'none',
        purpose: 'HOPERAT',
      },
      observer: service.ctx.identity.account.address,
      subtype: 'operation',
      resources: [`portal/break-glass-review/${hash}`],
      network,
    }),
  );
  // Written before the answer: the dashboard reads the note back from the log at once.
  await service.ctx.audit.flush();
  const [row] = await db.query<{ reviewed_at: Date | string }>(
    `INSERT INTO break_glass_reviews (tx_hash, outcome) VALUES ($1, $2)
     ON CONFLICT (tx_hash) DO NOTHING RETURNING reviewed_at`,
    [hash, outcome as ReviewOutcome],
  );
  if (!row) throw new PortalError('ERR_PORTAL_CONFLICT', `break-glass opening ${hash} was already reviewed`);
  return {
    txHash: hash,
    outcome: outcome as ReviewOutcome,
    reviewedAt: new Date(row.reviewed_at).toISOString(),
  };
}
