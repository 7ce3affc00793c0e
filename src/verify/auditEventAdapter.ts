/**
 * How the verifier reads and checks an audit event: ciphertext hash and leaf (which binds `seq`) from
 * the stored columns; with keys, decryption (authenticates `seq`), the content commitment, and that
 * the clear columns and blind indexes agree with the content.
 */

import { auditLeaf } from '../audit/auditLeaf.ts';
import { openAuditEvent } from '../audit/sealAuditEvent.ts';
import type { StoredAuditEventRow } from '../audit/storedAuditEventRow.ts';
import type { AuditEventResource } from '../audit/toAuditEventResource.ts';
import { AuditCheckFailure, checkClearColumns } from '../audit/verifyAuditEventRow.ts';
import { GCM_IV_BYTES } from '../crypto/aesGcm.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import { ciphertextHash, contentCommitment } from '../crypto/recordLeaf.ts';
import { joinProofs, PROOF_COLUMNS } from '../vault/anchorKinds.ts';
import { toBuffer } from '../vault/toBuffer.ts';
import type { LeafKindAdapter, LeafRowBase, RowCheck } from './verifyLeafTable.ts';

export type AuditEventRow = LeafRowBase & Omit<StoredAuditEventRow, 'batch_root'>;

export function auditEventAdapter(
  keyring: Keyring | undefined,
  indexKey: Uint8Array | undefined,
): LeafKindAdapter<AuditEventRow> {
  return {
    name: 'audit',
    kind: 1,
    table: 'audit_events',
    select: `SELECT t.seq::text AS seq, t.recorded, t.action, t.outcome, t.patient_index,
      (SELECT string_agg(encode(p, 'hex'), ',') FROM unnest(t.patient_indexes) AS p) AS patients_hex,
      (SELECT string_agg(encode(a, 'hex'), ',') FROM unnest(t.agent_index) AS a) AS agent_hex, t.ciphertext,
      t.wrapped_key, t.kek_id, t.content_commitment, t.leaf, ${PROOF_COLUMNS}, t.recorded AS written_at
      FROM audit_events t ${joinProofs(1, 't')}`,
    gapFreeSeq: true,
    async check(row) {
      const seq = BigInt(row.seq);
      const result: RowCheck = {
        name: `AuditEvent/${row.seq}`,
        failures: [],
        contentChecked: false,
        erased: false,
      };
      const stored = toBuffer(row.ciphertext);
      const iv = stored.subarray(0, GCM_IV_BYTES);
      const ciphertext = stored.subarray(GCM_IV_BYTES);
      const commitment = toBuffer(row.content_commitment);
      if (!auditLeaf(seq, commitment, ciphertextHash(iv, ciphertext)).equals(toBuffer(row.leaf)))
        result.failures.push({
          check: 'leaf-mismatch',
          detail: 'leaf does not recompute from seq, commitment and ciphertext: changed, moved or forged',
        });
      if (!keyring || !indexKey) return result;
      const kek = await keyring.get(row.kek_id);
      if (!kek) {
        result.failures.push({
          check: 'unknown-kek',
          detail: `key-encryption key ${row.kek_id} is not held`,
        });
        return result;
      }
      try {
        const opened = await openAuditEvent(
          seq,
          { ciphertext, iv, wrappedKey: toBuffer(row.wrapped_key) },
          kek,
        );
        result.contentChecked = true;
        if (!contentCommitment(opened.salt, opened.canonicalJson).equals(commitment))
          result.failures.push({
            check: 'content-commitment',
            detail: 'decrypted event does not match its commitment',
          });
        const resource = JSON.parse(opened.canonicalJson.toString('utf8')) as AuditEventResource;
        checkClearColumns(row, resource, indexKey);
      } catch (error) {
        if (error instanceof AuditCheckFailure)
          result.failures.push({
            check: error.check,
            detail: 'clear columns disagree with the encrypted event',
          });
        else result.failures.push({ check: 'decryption', detail: 'does not decrypt as this seq' });
      }
      return result;
    },
  };
}
