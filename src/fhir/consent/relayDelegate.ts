/**
 * Accepts a patient-signed `Delegate` appointment (a guardian or proxy who may sign consents for
 * the patient until a date; `until` 0 ends it) for relaying to `Consent.setDelegate`, after
 * checking off chain what the contract would: the deadline, the period, that the patient signed
 * it (a delegate cannot appoint others), and the pair's current nonce. The node never holds a
 * patient key; the appointment is in the outbox when this returns.
 */
import { type Hex, recoverTypedDataAddress } from 'viem';
import { consentDomain, consentTypes, type DelegateMessage } from '../../chain/consent/consentTypedData.ts';
import { relayConsent } from '../../chain/consent/relayConsent.ts';
import { consentAbi } from '../../chain/generated/contracts.ts';
import { MedledgerError } from '../../errors/MedledgerError.ts';
import { type ConsentRelayContext, relayedBefore } from './relaySignedConsent.ts';

/** The longest appointment the node relays (the contract allows any). */
export const MAX_DELEGATION_SECONDS = 5 * 366 * 86_400;

const problem = (code: string, message: string) => new MedledgerError(code, message);

export async function relaySignedDelegate(
  ctx: ConsentRelayContext,
  signed: { message: DelegateMessage; signature: Hex },
): Promise<{ outboxId: bigint; created: boolean }> {
  const m = signed.message;
  const now = Math.floor(Date.now() / 1000);
  if (m.deadline <= BigInt(now)) throw problem('ERR_CONSENT_DEADLINE', 'the signature deadline has passed');
  if (m.until !== 0 && (m.until <= now || m.until > now + MAX_DELEGATION_SECONDS))
    throw problem('ERR_CONSENT_PERIOD', 'until must be in the future (at most five years), or 0 to end it');
  if (m.delegate.toLowerCase() === m.patient.toLowerCase())
    throw problem('ERR_CONSENT_DELEGATE', 'a patient is not their own delegate');
  let signer: string;
  try {
    signer = (
      await recoverTypedDataAddress({
        domain: consentDomain(ctx.chain.addresses.chainId, ctx.chain.addresses.consent),
        types: consentTypes,
        primaryType: 'Delegate',
        message: m,
        signature: signed.signature,
      })
    ).toLowerCase();
  } catch (error) {
    throw new MedledgerError('ERR_CONSENT_SIGNATURE_INVALID', 'the delegation signature does not verify', {
      cause: error,
    });
  }
  if (signer !== m.patient.toLowerCase())
    throw problem('ERR_CONSENT_SIGNATURE_INVALID', 'only the patient appoints or removes a delegate');
  const nonce = await ctx.chain.publicClient.readContract({
    address: ctx.chain.addresses.consent,
    abi: consentAbi,
    functionName: 'delegateNonceOf',
    args: [m.patient, m.delegate],
  });
  if (m.nonce !== Number(nonce))
    throw problem(
      'ERR_CONSENT_NONCE',
      `nonce ${m.nonce} is not the current nonce ${nonce} of this delegation`,
    );
  const result = await ctx.db.transaction(async (tx) => {
    const inFlight = await tx.query<{ id: string }>(
      `SELECT id::text AS id FROM chain_outbox
       WHERE contract = 'consent' AND function_name = 'setDelegate' AND status IN ('pending', 'signed')
         AND lower(args->>0) = $1 AND lower(args->>1) = $2`,
      [m.patient.toLowerCase(), m.delegate.toLowerCase()],
    );
    const id = await relayConsent(tx, { kind: 'delegate', message: m, signature: signed.signature });
    if (id !== undefined) {
      if (inFlight.length > 0)
        throw problem('ERR_CONSENT_IN_FLIGHT', 'another change to this delegation is still being relayed');
      return { outboxId: id, created: true };
    }
    return { outboxId: await relayedBefore(tx, signed.signature), created: false };
  });
  ctx.outbox.notify();
  return result;
}
