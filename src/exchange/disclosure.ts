/**
 * What a custodian discloses to a requesting member (the plaintext inside the HPKE envelope):
 * per record version the resource and exactly what the requester needs to recompute its leaf
 * and check it against the custodian's root on chain, without trusting the custodian.
 * The leaf is `recordLeaf(type/id/version, sha256(salt ‖ canonicalJSON(resource)), ciphertextHash)`
 * (src/crypto/recordLeaf.ts); the proof is the OpenZeppelin-style Merkle path to the root the
 * custodian anchored as batch `batchSequence` of kind 0 (records).
 */
import type { Hex } from 'viem';

export const EXCHANGE_PROTOCOL = 'medledger-exchange/1';

/** The path of the custodian's endpoint, under its public URL. */
export const RECORDS_PATH = '/exchange/v1/records';

/** The body of a records request. */
export interface RecordsRequest {
  /** The patient's chain address. */
  patient: string;
  /** HL7 v3 PurposeOfUse; TREAT when absent. */
  purpose?: string;
}

export interface DisclosedRecord {
  resourceType: string;
  id: string;
  versionId: number;
  resource: { resourceType: string; id?: string; meta?: { versionId?: string } } & Record<string, unknown>;
  salt: Hex;
  ciphertextHash: Hex;
  batchSequence: string;
  batchIndex: number;
  proof: Hex[];
}

export interface Disclosure {
  protocol: typeof EXCHANGE_PROTOCOL;
  /** The custodian's node address (lower-case). */
  custodian: string;
  /** The patient's chain address (lower-case). */
  patient: string;
  /** The custodian's id of the patient (references in the records point to `Patient/{patientId}`). */
  patientId: string;
  purpose: string;
  /** The custodian's indexer block its consent decision was current to. */
  consentBlock: string;
  records: DisclosedRecord[];
  /** `Type/id/_history/v` of granted records whose batch is not anchored yet: not disclosed now. */
  pending: string[];
}
