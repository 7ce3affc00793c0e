/**
 * How the verifier reads and checks a record version: ciphertext hash and leaf from the stored
 * columns; with keys, decryption (which authenticates type, id, version and the deleted flag), the
 * content commitment and the resource's own identity. Erased versions are checked on the ciphertext
 * side only: their data key is gone by design.
 *
 * This file keeps its own SQL on purpose. Everything else reads stored versions through the
 * vault's one door (`src/vault/VaultReader.ts`); the verifier is the independent auditor of that
 * door, so it must not share its code: a fault in the vault's read cannot hide itself here.
 */
import { GCM_IV_BYTES } from '../crypto/aesGcm.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import { ciphertextHash, contentCommitment, recordLeaf } from '../crypto/recordLeaf.ts';
import { openRecord } from '../crypto/sealRecord.ts';
import { joinProofs, PROOF_COLUMNS } from '../vault/anchorKinds.ts';
import { toBuffer } from '../vault/toBuffer.ts';
import type { LeafKindAdapter, LeafRowBase, RowCheck } from './verifyLeafTable.ts';

export interface RecordVersionRow extends LeafRowBase {
  resource_type: string;
  resource_id: string;
  version_id: number;
  deleted: boolean;
  /** `iv ‖ ciphertext ‖ tag`. */
  ciphertext: Uint8Array;
  wrapped_key: Uint8Array | null;
  kek_id: string;
  content_commitment: Uint8Array;
  erased: boolean;
}

export function recordVersionAdapter(keyring: Keyring | undefined): LeafKindAdapter<RecordVersionRow> {
  return {
    name: 'records',
    kind: 0,
    table: 'record_versions',
    select: `SELECT t.seq::text AS seq, t.resource_type, t.resource_id, t.version_id, t.deleted, t.ciphertext,
      t.wrapped_key, t.kek_id, t.content_commitment, t.leaf, ${PROOF_COLUMNS}, t.erased_at IS NOT NULL AS erased, t.last_updated AS written_at
      FROM record_versions t ${joinProofs(0, 't')}`,
    gapFreeSeq: false,
    async check(row) {
      const version = { resourceType: row.resource_type, id: row.resource_id, versionId: row.version_id };
      const result: RowCheck = {
        name: `${row.resource_type}/${row.resource_id}/_history/${row.version_id}`,
        failures: [],
        contentChecked: false,
        erased: row.erased,
      };
      const stored = toBuffer(row.ciphertext);
      const iv = stored.subarray(0, GCM_IV_BYTES);
      const ciphertext = stored.subarray(GCM_IV_BYTES);
      const commitment = toBuffer(row.content_commitment);
      if (!recordLeaf(version, commitment, ciphertextHash(iv, ciphertext)).equals(toBuffer(row.leaf)))
        result.failures.push({
          check: 'leaf-mismatch',
          detail:
            'leaf does not recompute from type, id, version, commitment and ciphertext: changed, moved or forged',
        });
      if (!keyring || row.erased || row.wrapped_key === null) return result;
      const kek = await keyring.get(row.kek_id);
      if (!kek) {
        result.failures.push({
          check: 'unknown-kek',
          detail: `key-encryption key ${row.kek_id} is not held`,
        });
        return result;
      }
      try {
        const opened = await openRecord(
          { ...version, deleted: row.deleted },
          { ciphertext, iv, wrappedKey: toBuffer(row.wrapped_key) },
          kek,
        );
        result.contentChecked = true;
        if (!contentCommitment(opened.salt, opened.canonicalJson).equals(commitment))
          result.failures.push({
            check: 'content-commitment',
            detail: 'decrypted content does not match its commitment',
          });
        const resource = JSON.parse(opened.canonicalJson.toString('utf8')) as {
          resourceType?: string;
          id?: string;
          meta?: { versionId?: string };
        };
        if (
          resource.resourceType !== row.resource_type ||
          resource.id !== row.resource_id ||
          resource.meta?.versionId !== String(row.version_id)
        )
          result.failures.push({
            check: 'content-identity',
            detail: 'decrypted resource names another type, id or version',
          });
      } catch {
        result.failures.push({ check: 'decryption', detail: 'does not decrypt under its row identity' });
      }
      return result;
    },
  };
}
