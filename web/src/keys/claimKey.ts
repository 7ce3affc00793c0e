/**
 * Binding the browser's key to the patient's record: the claim flow of imported patients
 * (docs/import.md). The key signs, as an EIP-191 personal message, the node's claim text with
 * the one-time code the hospital gave; `POST Patient/{id}/$claim` then makes this key's address
 * the Patient's chain identity.
 * @see https://eips.ethereum.org/EIPS/eip-191
 */
import type { PrivateKeyAccount } from 'viem/accounts';
import { fhir } from '../api.ts';

/** Must match src/ehr/patientClaims.ts claimMessage (the node checks the signature over it). */
export function claimMessage(patientId: string, claimCode: string): string {
  const code = claimCode.toUpperCase().replace(/[^A-Z0-9]/g, '');
  return `medledger: bind Patient/${patientId} to my key with claim code ${code}`;
}

export async function claimPatient(patientId: string, claimCode: string, account: PrivateKeyAccount) {
  const signature = await account.signMessage({ message: claimMessage(patientId, claimCode) });
  return fhir<{ resourceType: 'Patient' }>(`Patient/${encodeURIComponent(patientId)}/$claim`, {
    method: 'POST',
    body: { claimCode: claimCode.trim(), newAddress: account.address, signature },
    auth: false,
  });
}

/**
 * Whether the claim code is this patient's and unused, before any key is made: resolves, or
 * rejects with the node's ApiError (400 wrong code, 409 already used: the record has its key).
 */
export async function checkClaimCode(patientId: string, claimCode: string): Promise<void> {
  await fhir<{ valid: true }>(`Patient/${encodeURIComponent(patientId)}/$claim-check`, {
    method: 'POST',
    body: { claimCode: claimCode.trim() },
    auth: false,
  });
}
