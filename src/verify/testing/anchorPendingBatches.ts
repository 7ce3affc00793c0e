/**
 * Test stand-in for the outbox worker and the indexer: anchors every local batch not yet on chain
 * (kind and sequence order) straight through viem, and records each `RootAnchored` in
 * `chain_anchored_roots` with its transaction and block, as the indexer would.
 */
import { bytesToHex, type Hex } from 'viem';
import type { ContractAddresses } from '../../chain/contractAddresses.ts';
import { anchorsAbi } from '../../chain/generated/contracts.ts';
import type { Queryable } from '../../store/db.ts';
import type { AnvilAnchors } from '../../vault/testing/anvilAnchors.ts';

export async function anchorPendingBatches(
  db: Queryable,
  chain: AnvilAnchors,
  addresses: ContractAddresses,
): Promise<number> {
  const member = chain.walletClient.account.address.toLowerCase();
  const batches = await db.query<{ kind: number; sequence: string; leaf_count: number; root: Uint8Array }>(
    `SELECT b.kind, b.sequence::text AS sequence, b.leaf_count, b.root FROM anchor_batches b
     WHERE NOT EXISTS (SELECT 1 FROM chain_anchored_roots r WHERE r.member = $1 AND r.kind = b.kind AND r.sequence = b.sequence)
     ORDER BY b.kind, b.sequence`,
    [member],
  );
  for (const batch of batches) {
    const root = bytesToHex(batch.root) as Hex;
    const hash = await chain.walletClient.writeContract({
      address: addresses.anchors,
      abi: anchorsAbi,
      functionName: 'anchor',
      args: [batch.kind, BigInt(batch.sequence), batch.leaf_count, root],
    });
    const receipt = await chain.publicClient.waitForTransactionReceipt({ hash });
    if (receipt.status !== 'success') throw new Error(`anchor ${hash} reverted`);
    await db.query(
      `INSERT INTO chain_anchored_roots (member, kind, sequence, leaf_count, root, block_number, tx_hash)
       VALUES ($1, $2, $3::bigint, $4, $5, $6::bigint, $7)`,
      [member, batch.kind, batch.sequence, batch.leaf_count, root, receipt.blockNumber.toString(), hash],
    );
  }
  return batches.length;
}
