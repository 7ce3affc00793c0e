/**
 * Envelope encryption of one audit event, like a record version (src/crypto/sealRecord.ts): a fresh
 * 256-bit data key, IV and salt per event; AES-256-GCM over `salt ‖ canonicalJSON`; the data key
 * wrapped by the KEK. Associated data binds the event's `seq`.
 */
import {
  type EnvelopeAad,
  type OpenedEnvelope,
  openEnvelope,
  type SealedEnvelope,
  sealEnvelope,
} from '../crypto/envelope.ts';
import type { KeyEncryptionKey } from '../crypto/KeyEncryptionKey.ts';
import { auditContentAad, auditDataKeyAad, auditLeaf } from './auditLeaf.ts';

export interface SealedAuditEvent extends SealedEnvelope {
  leaf: Buffer;
}

/** Seals the canonical JSON bytes of an event as number `seq`. */
export async function sealAuditEvent(
  seq: bigint,
  canonicalJson: Uint8Array,
  kek: KeyEncryptionKey,
): Promise<SealedAuditEvent> {
  const sealed = await sealEnvelope(canonicalJson, auditAad(seq), kek);
  return { ...sealed, leaf: auditLeaf(seq, sealed.contentCommitment, sealed.ciphertextHash) };
}

const auditAad = (seq: bigint): EnvelopeAad => ({
  content: auditContentAad(seq),
  dataKey: auditDataKeyAad(seq),
});

export type OpenedAuditEvent = OpenedEnvelope;

/** Unwraps and decrypts; every failure is the one generic {@link DecryptionError}. */
export function openAuditEvent(
  seq: bigint,
  sealed: { ciphertext: Uint8Array; iv: Uint8Array; wrappedKey: Uint8Array },
  kek: KeyEncryptionKey,
): Promise<OpenedAuditEvent> {
  return openEnvelope(sealed, auditAad(seq), kek);
}
