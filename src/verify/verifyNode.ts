/**
 * `verifyDatabase` over a running node's own database, chain, Anchors contract and identity: what
 * `medledger verify` and the portal's "Run verify now" both run.
 */
import type { NodeContext } from '../context/NodeContext.ts';
import type { VerifyReport } from './VerifyReport.ts';
import { type VerifyDatabaseOptions, verifyDatabase } from './verifyDatabase.ts';

/** Pending rows older than the anchoring delay plus this are findings. */
export const PENDING_SLACK_MS = 120_000;

export function verifyNode(
  ctx: NodeContext,
  options: { withKeys?: boolean; onProgress?: VerifyDatabaseOptions['onProgress'] } = {},
): Promise<VerifyReport> {
  return verifyDatabase({
    db: ctx.db,
    chain: {
      publicClient: ctx.chain.publicClient,
      anchors: ctx.chain.addresses.anchors,
      member: ctx.identity.account.address,
      fromBlock: BigInt(ctx.chain.addresses.deployBlock),
    },
    keyring: options.withKeys === false ? undefined : ctx.keyring,
    maxPendingAgeMs: ctx.config.anchoring.maxDelayMs + PENDING_SLACK_MS,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  });
}
