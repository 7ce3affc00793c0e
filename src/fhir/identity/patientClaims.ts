/**
 * One-time claim codes for patients imported without a chain address: part of the patient's
 * chain identity (docs/identity.md), issued by the import (src/ehr/) and by an officer's
 * `medledger patient reissue-claim`. The import gives such a Patient a generated address (whose
 * key nobody holds) and a random claim code, stored only as its SHA-256 (`ehr_patient_claims`). The patient later proves possession of the code and of their own key by signing
 * {@link claimMessage} (EIP-191) and `POST /fhir/Patient/{id}/$claim`; the generated address is
 * then replaced by theirs, once.
 * @see https://eips.ethereum.org/EIPS/eip-191
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { getAddress, type Hex, isAddress, verifyMessage } from 'viem';
import type { Queryable } from '../../store/db.ts';

const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';

/** A fresh claim code: 20 characters from a 31-letter alphabet (~99 bits), grouped by 5. */
export function newClaimCode(): string {
  const bytes = randomBytes(20);
  let code = '';
  for (const [i, b] of bytes.entries()) {
    if (i > 0 && i % 5 === 0) code += '-';
    code += ALPHABET[b % ALPHABET.length];
  }
  return code;
}

export function claimCodeHash(code: string): Buffer {
  return createHash('sha256').update(normalizeClaimCode(code)).digest();
}

function normalizeClaimCode(code: string): string {
  return code.toUpperCase().replace(/[^A-Z0-9]/g, '');
}

/** A random address for a patient without one; its key is never generated, so nobody can sign for it. */
export function generatedPatientAddress(): string {
  return `0x${randomBytes(20).toString('hex')}`;
}

/** The text the patient signs with the key they bind (EIP-191 personal message). */
export function claimMessage(patientId: string, claimCode: string): string {
  return `medledger: bind Patient/${patientId} to my key with claim code ${normalizeClaimCode(claimCode)}`;
}

export interface StoredClaim {
  patientId: string;
  generatedAddress: string;
  claimCode: string;
}

/** Stores the hashes of new claim codes (in the import's transaction). */
export async function storeClaims(q: Queryable, claims: readonly StoredClaim[]): Promise<void> {
  if (claims.length === 0) return;
  await q.query(
    `INSERT INTO ehr_patient_claims (patient_id, generated_address, code_hash)
     SELECT p, a, decode(h, 'hex') FROM unnest($1::text[], $2::text[], $3::text[]) AS t(p, a, h)
     ON CONFLICT (patient_id) DO NOTHING`,
    [
      claims.map((c) => c.patientId),
      claims.map((c) => c.generatedAddress),
      claims.map((c) => claimCodeHash(c.claimCode).toString('hex')),
    ],
  );
}

export interface ClaimRow {
  generated_address: string;
  code_hash: Uint8Array;
  claimed_at: string | null;
}

/** Constant-time comparison of a presented code against the stored hash. */
export function claimCodeMatches(row: ClaimRow, code: string): boolean {
  const expected = Buffer.from(row.code_hash);
  const actual = claimCodeHash(code);
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/** Whether `signature` is `newAddress`'s signature of the claim message. */
export async function claimSignatureValid(
  patientId: string,
  claimCode: string,
  newAddress: string,
  signature: string,
): Promise<boolean> {
  if (!isAddress(newAddress) || !/^0x[0-9a-fA-F]+$/.test(signature)) return false;
  try {
    return await verifyMessage({
      address: getAddress(newAddress),
      message: claimMessage(patientId, claimCode),
      signature: signature as Hex,
    });
  } catch {
    return false;
  }
}
