/**
 * The stable id of a chain-derived Consent resource: the Consent contract's own storage key
 * of the grant, keccak256(abi.encode(patient, grantee, custodian)), as 64 hex digits (a valid
 * FHIR id). Every grant, replacement and revocation of one (patient, grantee, custodian)
 * triple is the same Consent; its versions follow the on-chain nonce.
 * @see https://hl7.org/fhir/R4/datatypes.html#id
 */
import { type Address, encodeAbiParameters, keccak256 } from 'viem';

export interface ConsentKey {
  patient: string;
  grantee: string;
  /** The zero address: any custodian. */
  custodian: string;
}

const CHAIN_CONSENT_ID = /^[0-9a-f]{64}$/;

export function consentIdOf(key: ConsentKey): string {
  const encoded = encodeAbiParameters(
    [{ type: 'address' }, { type: 'address' }, { type: 'address' }],
    [key.patient as Address, key.grantee as Address, key.custodian as Address],
  );
  return keccak256(encoded).slice(2);
}

/** Whether `id` has the shape of a chain-derived Consent id (other Consents are stored documents). */
export function isChainConsentId(id: string): boolean {
  return CHAIN_CONSENT_ID.test(id);
}
