/**
 * Envelope encryption of one record version: a fresh 256-bit data key and 96-bit IV per version,
 * AES-256-GCM over `salt ‖ canonicalJSON` (the 32-byte salt lives only inside the ciphertext, so
 * destroying the data key also destroys the salt), the data key wrapped by the current KEK.
 * Associated data binds type, id, version and the deleted flag, so ciphertexts cannot be moved
 * between rows or a tombstone passed off as content.
 */
import { canonicalJsonBytes } from './canonicalJson.ts';
import {
  type EnvelopeAad,
  type OpenedEnvelope,
  openEnvelope,
  SALT_BYTES,
  type SealedEnvelope,
  sealEnvelope,
} from './envelope.ts';
import type { KeyEncryptionKey } from './KeyEncryptionKey.ts';
import { type RecordVersionId, recordLeaf } from './recordLeaf.ts';

export { SALT_BYTES };

export interface SealedVersionId extends RecordVersionId {
  deleted: boolean;
}

export interface SealedRecord extends SealedEnvelope {
  leaf: Buffer;
}

/** Associated data of the content ciphertext. */
export function contentAad(version: SealedVersionId): Buffer {
  const state = version.deleted ? 'deleted' : 'present';
  return Buffer.from(
    `medledger.record.v1\n${version.resourceType}\n${version.id}\n${version.versionId}\n${state}`,
  );
}

/** Associated data of the wrapped data key (re-wrapping during rotation reproduces it from the row). */
export function dataKeyAad(version: RecordVersionId): Buffer {
  return Buffer.from(`medledger.dek.v1\n${version.resourceType}\n${version.id}\n${version.versionId}`);
}

export async function sealRecord(
  version: SealedVersionId,
  resource: unknown,
  kek: KeyEncryptionKey,
): Promise<SealedRecord> {
  const sealed = await sealEnvelope(canonicalJsonBytes(resource), recordAad(version), kek);
  return { ...sealed, leaf: recordLeaf(version, sealed.contentCommitment, sealed.ciphertextHash) };
}

const recordAad = (version: SealedVersionId): EnvelopeAad => ({
  content: contentAad(version),
  dataKey: dataKeyAad(version),
});

export type OpenedRecord = OpenedEnvelope;

/** Unwraps the data key and decrypts; every failure is the one generic {@link DecryptionError}. */
export function openRecord(
  version: SealedVersionId,
  sealed: { ciphertext: Uint8Array; iv: Uint8Array; wrappedKey: Uint8Array },
  kek: KeyEncryptionKey,
): Promise<OpenedRecord> {
  return openEnvelope(sealed, recordAad(version), kek);
}
