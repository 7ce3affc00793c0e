/**
 * Accepts a patient-signed Grant or Revoke for relaying, after checking off chain everything
 * the Consent contract would check, so a bad message becomes a 4xx here and never a chain
 * transaction: the EIP-712 signature recovers to the patient or one of their active
 * delegates, the nonce is the key's current on-chain nonce, the deadline and period are not
 * over, no other change to the same consent is in flight. The message then goes to the
 * outbox (relayConsent) and the outbox worker is woken. The node never holds a patient key.
 * @see https://eips.ethereum.org/EIPS/eip-712
 */
import { type Hex, keccak256, recoverTypedDataAddress } from 'viem';
import { isActiveDelegate } from '../../access/delegates.ts';
import { compactSignatureArgs } from '../../chain/consent/compactSignatureArgs.ts';
import {
  consentDomain,
  consentTypes,
  type GrantMessage,
  type RevokeMessage,
} from '../../chain/consent/consentTypedData.ts';
import { relayConsent } from '../../chain/consent/relayConsent.ts';
import { consentAbi } from '../../chain/generated/contracts.ts';
import { settledOutboxEntry } from '../../chain/outbox/outboxEntry.ts';
import type { NodeContext } from '../../context/NodeContext.ts';
import { MedledgerError } from '../../errors/MedledgerError.ts';
import type { Queryable } from '../../store/db.ts';

export type SignedConsentChange =
  | { kind: 'grant'; message: GrantMessage; signature: Hex }
  | { kind: 'revoke'; message: RevokeMessage; signature: Hex };

export type ConsentRelayContext = Pick<NodeContext, 'db' | 'chain' | 'outbox' | 'indexer'>;

export interface RelaySignedConsentResult {
  outboxId: bigint;
  /** The recovered signer: the patient or a delegate (lower-case). */
  signer: string;
  /** False when this exact signature had already been accepted (idempotent retry). */
  created: boolean;
}

export async function relaySignedConsent(
  ctx: ConsentRelayContext,
  signed: SignedConsentChange,
): Promise<RelaySignedConsentResult> {
  compactSignatureArgs(signed.signature); // malformed or high-s: 400 before anything else
  const now = BigInt(Math.floor(Date.now() / 1000));
  const m = signed.message;
  if (m.deadline <= now) throw problem('ERR_CONSENT_DEADLINE', 'the signature deadline has passed');
  if (signed.kind === 'grant') {
    const g = signed.message;
    if (g.resourceTypes === 0n || g.purposes === 0)
      throw problem('ERR_CONSENT_SCOPE', 'a grant must cover at least one resource type and one purpose');
    if (g.expiry <= g.notBefore || BigInt(g.expiry) <= now)
      throw problem('ERR_CONSENT_PERIOD', 'the period is empty or already over (expiry)');
  }

  const signer = await signerOf(ctx, signed);
  const patient = m.patient.toLowerCase();
  if (signer !== patient && !(await isActiveDelegate(ctx.db, patient, signer, Number(now))))
    throw problem(
      'ERR_CONSENT_SIGNATURE_INVALID',
      'the consent is not signed by the patient or one of their active delegates',
    );

  const { publicClient, addresses } = ctx.chain;
  const key = [m.patient, m.grantee, m.custodian] as const;
  const [nonce, grant] = await Promise.all([
    publicClient.readContract({
      address: addresses.consent,
      abi: consentAbi,
      functionName: 'nonceOf',
      args: key,
    }),
    signed.kind === 'revoke'
      ? publicClient.readContract({
          address: addresses.consent,
          abi: consentAbi,
          functionName: 'getGrant',
          args: key,
        })
      : undefined,
  ]);
  if (m.nonce !== Number(nonce))
    throw problem(
      'ERR_CONSENT_NONCE',
      m.nonce < Number(nonce)
        ? `nonce ${m.nonce} was already used (replay); the current nonce is ${nonce}`
        : `nonce ${m.nonce} is not the current nonce ${nonce}`,
    );
  if (grant && grant[3] === 0) throw problem('ERR_CONSENT_NO_GRANT', 'there is no active grant to revoke');

  const result = await ctx.db.transaction(async (tx) => {
    const inFlight = await tx.query<{ id: string; dedupe_key: string }>(
      `SELECT id::text AS id, dedupe_key FROM chain_outbox
       WHERE contract = 'consent' AND function_name IN ('grant', 'revoke') AND status IN ('pending', 'signed')
         AND lower(args->>0) = $1 AND lower(args->>1) = $2 AND lower(args->>2) = $3`,
      key.map((a) => a.toLowerCase()),
    );
    const id = await relayConsent(tx, signed);
    if (id !== undefined) {
      if (inFlight.length > 0)
        throw problem('ERR_CONSENT_IN_FLIGHT', 'another change to this consent is still being relayed');
      return { outboxId: id, created: true };
    }
    return { outboxId: await relayedBefore(tx, signed.signature), created: false };
  });
  // A revocation holds from now on in this node's decisions, before the chain has it final.
  if (signed.kind === 'revoke') await ctx.indexer.refreshConsentHolds();
  ctx.outbox.notify();
  return { ...result, signer };
}

/**
 * Waits up to `timeoutMs` until the relayed message is mined, final and indexed: true then, false
 * when the chain is slower (the caller answers 202 with a link to follow). A chain rejection is
 * a 409.
 */
export async function waitForRelayedConsent(
  ctx: ConsentRelayContext,
  outboxId: bigint,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  const state = await settledOutboxEntry(ctx.db, outboxId, timeoutMs);
  if (!state) return false;
  if (state.status === 'failed')
    throw problem('ERR_CONSENT_REJECTED', `the chain rejected the consent: ${state.error ?? 'unknown'}`);
  if (state.blockNumber === null) return true;
  return ctx.indexer.waitForBlock(state.blockNumber, Math.max(0, deadline - Date.now())).then(
    () => true,
    () => false,
  );
}

async function signerOf(ctx: ConsentRelayContext, signed: SignedConsentChange): Promise<string> {
  const domain = consentDomain(ctx.chain.addresses.chainId, ctx.chain.addresses.consent);
  try {
    const address =
      signed.kind === 'grant'
        ? await recoverTypedDataAddress({
            domain,
            types: consentTypes,
            primaryType: 'Grant',
            message: signed.message,
            signature: signed.signature,
          })
        : await recoverTypedDataAddress({
            domain,
            types: consentTypes,
            primaryType: 'Revoke',
            message: signed.message,
            signature: signed.signature,
          });
    return address.toLowerCase();
  } catch (error) {
    throw new MedledgerError('ERR_CONSENT_SIGNATURE_INVALID', 'the consent signature does not verify', {
      cause: error,
    });
  }
}

// Mirrors relayConsent's dedupe key (one outbox entry per signature).
const dedupeKeyOf = (signature: Hex) => `consent:${keccak256(signature)}`;

/** The outbox entry of a signature relayed before (an idempotent retry of the same message). */
export async function relayedBefore(tx: Queryable, signature: Hex): Promise<bigint> {
  const same = await tx.query<{ id: string }>(
    'SELECT id::text AS id FROM chain_outbox WHERE dedupe_key = $1',
    [dedupeKeyOf(signature)],
  );
  return BigInt(same[0]!.id);
}

function problem(code: string, message: string): MedledgerError {
  return new MedledgerError(code, message);
}
