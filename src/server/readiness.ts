/**
 * `GET /healthz`: ready once the store answers, the chain answers, and the indexer
 * is current to within one block of the head (INTERFACE.md).
 */
import { consentStateIsCurrent } from '../access/authorizeAccess.ts';
import type { NodeContext } from '../context/NodeContext.ts';

export interface ReadinessReport {
  ready: boolean;
  store: 'ok' | 'unavailable';
  chain: 'ok' | 'unavailable';
  indexer: { block: string; head: string; current: boolean };
  /** Consent decisions are made only while this is true; otherwise they are denied (503). */
  consent: { current: boolean; reason?: string };
  member: string;
  pendingChainWrites: number;
}

export async function readiness(ctx: NodeContext): Promise<ReadinessReport> {
  const [storeResult, headResult] = await Promise.allSettled([
    ctx.db.query<{ pending: number }>(
      "SELECT count(*)::int AS pending FROM chain_outbox WHERE status IN ('pending', 'signed')",
    ),
    ctx.chain.publicClient.getBlockNumber({ cacheTime: 0 }),
  ]);
  const status = ctx.indexer.status;
  const head = headResult.status === 'fulfilled' ? headResult.value : status.head;
  const current = status.block >= 0n && head - status.block <= 1n;
  const consent = consentStateIsCurrent(ctx);
  const store = storeResult.status === 'fulfilled' ? 'ok' : 'unavailable';
  const chain = headResult.status === 'fulfilled' ? 'ok' : 'unavailable';
  return {
    ready: store === 'ok' && chain === 'ok' && current && consent.ok,
    store,
    chain,
    indexer: { block: status.block.toString(), head: head.toString(), current },
    consent: consent.ok
      ? { current: true }
      : { current: false, reason: `consent decisions are denied: ${consent.why}` },
    member: ctx.identity.account.address,
    pendingChainWrites: storeResult.status === 'fulfilled' ? (storeResult.value[0]?.pending ?? 0) : -1,
  };
}
