/**
 * Signs Consent EIP-712 messages (Grant, Revoke, Delegate) as a patient or delegate would in the portal.
 * @see https://eips.ethereum.org/EIPS/eip-712
 */
import type { Address, Hex, LocalAccount } from 'viem';

/** EIP-712 types of the Consent contract (field order matters). */
export const consentTypes = {
  Grant: [
    { name: 'patient', type: 'address' },
    { name: 'grantee', type: 'address' },
    { name: 'custodian', type: 'address' },
    { name: 'resourceTypes', type: 'uint64' },
    { name: 'purposes', type: 'uint32' },
    { name: 'notBefore', type: 'uint40' },
    { name: 'expiry', type: 'uint40' },
    { name: 'nonce', type: 'uint32' },
    { name: 'deadline', type: 'uint256' },
  ],
  Revoke: [
    { name: 'patient', type: 'address' },
    { name: 'grantee', type: 'address' },
    { name: 'custodian', type: 'address' },
    { name: 'nonce', type: 'uint32' },
    { name: 'deadline', type: 'uint256' },
  ],
  Delegate: [
    { name: 'patient', type: 'address' },
    { name: 'delegate', type: 'address' },
    { name: 'until', type: 'uint40' },
    { name: 'nonce', type: 'uint32' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const;

export interface ConsentDomain {
  chainId: number;
  verifyingContract: Address;
}

export interface GrantMessage {
  patient: Address;
  grantee: Address;
  custodian: Address;
  resourceTypes: bigint;
  purposes: number;
  notBefore: number;
  expiry: number;
  nonce: number;
  deadline: bigint;
}

export interface RevokeMessage {
  patient: Address;
  grantee: Address;
  custodian: Address;
  nonce: number;
  deadline: bigint;
}

export interface DelegateMessage {
  patient: Address;
  delegate: Address;
  until: number;
  nonce: number;
  deadline: bigint;
}

function domain({ chainId, verifyingContract }: ConsentDomain) {
  return { name: 'medledger Consent', version: '1', chainId, verifyingContract } as const;
}

export function signGrant(signer: LocalAccount, d: ConsentDomain, message: GrantMessage): Promise<Hex> {
  return signer.signTypedData({ domain: domain(d), types: consentTypes, primaryType: 'Grant', message });
}

export function signRevoke(signer: LocalAccount, d: ConsentDomain, message: RevokeMessage): Promise<Hex> {
  return signer.signTypedData({ domain: domain(d), types: consentTypes, primaryType: 'Revoke', message });
}

export function signDelegate(signer: LocalAccount, d: ConsentDomain, message: DelegateMessage): Promise<Hex> {
  return signer.signTypedData({ domain: domain(d), types: consentTypes, primaryType: 'Delegate', message });
}
