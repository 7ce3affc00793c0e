/**
 * Relays a patient-signed consent message to the chain through the outbox. The node
 * only carries the signature: the contract checks it, so a relaying node can neither
 * forge, alter nor replay consent. The dedupe key is the signature itself; the contract
 * takes it in EIP-2098 compact form (https://eips.ethereum.org/EIPS/eip-2098).
 */
import { type Hex, keccak256 } from 'viem';
import type { Queryable } from '../../store/db.ts';
import { enqueueChainWrite } from '../outbox/enqueueChainWrite.ts';
import { compactSignatureArgs } from './compactSignatureArgs.ts';
import type { DelegateMessage, GrantMessage, RevokeMessage } from './consentTypedData.ts';

export type SignedConsent =
  | { kind: 'grant'; message: GrantMessage; signature: Hex }
  | { kind: 'revoke'; message: RevokeMessage; signature: Hex }
  | { kind: 'delegate'; message: DelegateMessage; signature: Hex };

/**
 * Returns the outbox id (undefined if this exact signature was already relayed). Throws
 * `ERR_CONSENT_SIGNATURE_INVALID` for a malformed signature, before anything is enqueued.
 */
export async function relayConsent(tx: Queryable, signed: SignedConsent): Promise<bigint | undefined> {
  const dedupeKey = `consent:${keccak256(signed.signature)}`;
  const signature = compactSignatureArgs(signed.signature);
  switch (signed.kind) {
    case 'grant': {
      const m = signed.message;
      return enqueueChainWrite(tx, {
        dedupeKey,
        contract: 'consent',
        functionName: 'grant',
        args: [
          m.patient,
          m.grantee,
          m.custodian,
          m.resourceTypes.toString(),
          m.purposes,
          m.notBefore,
          m.expiry,
          m.deadline.toString(),
          ...signature,
        ],
      });
    }
    case 'revoke': {
      const m = signed.message;
      return enqueueChainWrite(tx, {
        dedupeKey,
        contract: 'consent',
        functionName: 'revoke',
        args: [m.patient, m.grantee, m.custodian, m.deadline.toString(), ...signature],
      });
    }
    case 'delegate': {
      const m = signed.message;
      return enqueueChainWrite(tx, {
        dedupeKey,
        contract: 'consent',
        functionName: 'setDelegate',
        args: [m.patient, m.delegate, m.until, m.deadline.toString(), ...signature],
      });
    }
  }
}
