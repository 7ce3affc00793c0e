/**
 * Test helper: what an attacker holding a stopped custodian's database AND its key-encryption
 * key can do — rewrite a record's content, re-seal it, and make the custodian's database
 * consistent with it: leaf, the batch's Merkle tree, every proof in the batch, the local batch
 * root, and every copy the node keeps of the root "anchored on chain" (`chain_anchored_roots`,
 * the `RootAnchored` row of `chain_events`, the anchor call's arguments in `chain_outbox`).
 * Every check against the database then passes; the root on chain cannot be rewritten, so the
 * custodian's own reads (which take roots from the chain: ChainRootSet) and any other member's
 * fail. `databaseUrl` is the node's PostgreSQL server database; without it, the PGlite one in
 * `dataDir`.
 */
import { type Hex, hexToBytes } from 'viem';
import { buildMerkleTree, merkleProofFromTree } from '../../src/chain/merkle.ts';
import { GCM_IV_BYTES } from '../../src/crypto/aesGcm.ts';
import { FileKeyring } from '../../src/crypto/FileKeyring.ts';
import { openRecord, sealRecord } from '../../src/crypto/sealRecord.ts';
import { migrations } from '../../src/node/migrations.ts';
import { openDatabase } from '../../src/store/openDatabase.ts';

export interface ForgedStore {
  /** The node's data directory (its key-encryption key; its PGlite database without `databaseUrl`). */
  dataDir: string;
  databaseUrl?: string | undefined;
}

export async function forgeCustodianRecord(
  store: ForgedStore,
  custodian: string,
  reference: { resourceType: string; id: string },
  change: (resource: Record<string, unknown>) => void,
): Promise<void> {
  const { dataDir, databaseUrl } = store;
  const db = await openDatabase({ migrations, databaseUrl, dataDir });
  try {
    const keyring = await FileKeyring.open(dataDir);
    const [row] = await db.query<{
      version_id: number;
      ciphertext: Uint8Array;
      wrapped_key: Uint8Array;
      kek_id: string;
      batch_sequence: string;
    }>(
      `SELECT v.version_id, v.ciphertext, v.wrapped_key, v.kek_id, p.batch_sequence::text AS batch_sequence
       FROM record_versions v LEFT JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq
       WHERE v.resource_type = $1 AND v.resource_id = $2 ORDER BY v.version_id DESC LIMIT 1`,
      [reference.resourceType, reference.id],
    );
    if (!row?.batch_sequence) throw new Error(`${reference.resourceType}/${reference.id} is not batched`);
    const version = { ...reference, versionId: row.version_id, deleted: false };
    const stored = Buffer.from(row.ciphertext);
    const kek = await keyring.get(row.kek_id);
    if (!kek) throw new Error('no KEK');
    const opened = await openRecord(
      version,
      {
        iv: stored.subarray(0, GCM_IV_BYTES),
        ciphertext: stored.subarray(GCM_IV_BYTES),
        wrappedKey: Buffer.from(row.wrapped_key),
      },
      kek,
    );
    const resource = JSON.parse(Buffer.from(opened.canonicalJson).toString('utf8')) as Record<
      string,
      unknown
    >;
    change(resource);
    const sealed = await sealRecord(version, resource, keyring.current());
    await db.transaction(async (tx) => {
      // The insider switches off the proofs' append-only trigger (the database owner can).
      await tx.query('ALTER TABLE anchor_proofs DISABLE TRIGGER USER');
      await tx.query(
        `UPDATE record_versions SET ciphertext = $3, wrapped_key = $4, kek_id = $5, content_commitment = $6, leaf = $7
         WHERE resource_type = $1 AND resource_id = $2 AND version_id = $8`,
        [
          reference.resourceType,
          reference.id,
          Buffer.concat([sealed.iv, sealed.ciphertext]),
          sealed.wrappedKey,
          sealed.kekId,
          sealed.contentCommitment,
          sealed.leaf,
          row.version_id,
        ],
      );
      const leaves = await tx.query<{ seq: string; leaf: Uint8Array }>(
        `SELECT v.seq::text AS seq, v.leaf FROM record_versions v
         JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq WHERE p.batch_sequence = $1 ORDER BY p.batch_index`,
        [row.batch_sequence],
      );
      const tree = buildMerkleTree(leaves.map((l) => `0x${Buffer.from(l.leaf).toString('hex')}` as Hex));
      for (const [index, leaf] of leaves.entries()) {
        const proof = Buffer.concat(merkleProofFromTree(tree, index).map((node) => hexToBytes(node)));
        await tx.query('UPDATE anchor_proofs SET proof = $2 WHERE kind = 0 AND seq = $1', [leaf.seq, proof]);
      }
      await tx.query('UPDATE anchor_batches SET root = $2 WHERE kind = 0 AND sequence = $1', [
        row.batch_sequence,
        hexToBytes(tree.root),
      ]);
      await tx.query(
        'UPDATE chain_anchored_roots SET root = $3 WHERE member = $1 AND kind = 0 AND sequence = $2',
        [custodian.toLowerCase(), row.batch_sequence, tree.root],
      );
      await tx.query(
        `UPDATE chain_events SET args = jsonb_set(args, '{root}', to_jsonb($3::text))
         WHERE event_name = 'RootAnchored' AND lower(args->>'member') = $1 AND args->>'kind' = '0'
           AND args->>'sequence' = $2`,
        [custodian.toLowerCase(), row.batch_sequence, tree.root],
      );
      await tx.query(
        `UPDATE chain_outbox SET args = jsonb_set(args, '{3}', to_jsonb($2::text))
         WHERE dedupe_key = $1`,
        [`anchor:records:${row.batch_sequence}`, tree.root],
      );
      await tx.query('ALTER TABLE anchor_proofs ENABLE TRIGGER USER');
    });
  } finally {
    await db.close();
  }
}
