/**
 * EIP-712 typed data of consent messages (https://eips.ethereum.org/EIPS/eip-712),
 * exactly as contracts/Consent.sol hashes them. A patient (or their delegate) signs
 * these with their own key, in the browser or a wallet; any member node relays them.
 */
import type { Address, TypedDataDomain } from 'viem';

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

export function consentDomain(chainId: number, consent: Address): TypedDataDomain {
  return { name: 'medledger Consent', version: '1', chainId, verifyingContract: consent };
}

export interface GrantMessage {
  patient: Address;
  grantee: Address;
  /** The zero address: any custodian. */
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
