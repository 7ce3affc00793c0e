/**
 * Signs Consent EIP-712 messages (Grant, Revoke, Delegate) as a patient or delegate would in the portal,
 * with the production typed data of ../consent/consentTypedData.ts.
 * @see https://eips.ethereum.org/EIPS/eip-712
 */
import type { Address, Hex, LocalAccount } from 'viem';
import {
  consentDomain,
  consentTypes,
  type DelegateMessage,
  type GrantMessage,
  type RevokeMessage,
} from '../consent/consentTypedData.ts';

export { consentTypes, type DelegateMessage, type GrantMessage, type RevokeMessage };

export interface ConsentDomain {
  chainId: number;
  verifyingContract: Address;
}

const domain = ({ chainId, verifyingContract }: ConsentDomain) => consentDomain(chainId, verifyingContract);

/** 65-byte signature, as a wallet returns it; Consent takes it through `compactSignatureArgs`. */
export function signGrant(signer: LocalAccount, d: ConsentDomain, message: GrantMessage): Promise<Hex> {
  return signer.signTypedData({ domain: domain(d), types: consentTypes, primaryType: 'Grant', message });
}

export function signRevoke(signer: LocalAccount, d: ConsentDomain, message: RevokeMessage): Promise<Hex> {
  return signer.signTypedData({ domain: domain(d), types: consentTypes, primaryType: 'Revoke', message });
}

export function signDelegate(signer: LocalAccount, d: ConsentDomain, message: DelegateMessage): Promise<Hex> {
  return signer.signTypedData({ domain: domain(d), types: consentTypes, primaryType: 'Delegate', message });
}
