/**
 * `GET /healthz`: ready once the store answers, the chain answers (the indexer polled it within
 * 2 s), the indexer is current to within one block of the final block, and no write put back in
 * flight by a rewind of the chain is still open (INTERFACE.md). Answers within a second whatever
 * the chain or the store do: each part is bounded.
 */
import { consentStateIsCurrent } from '../access/authorizeAccess.ts';
import type { NodeContext } from '../context/NodeContext.ts';

export interface ReadinessReport {
  ready: boolean;
  store: 'ok' | 'unavailable';
  chain: 'ok' | 'unavailable';
  indexer: {
    block: string;
    head: string;
    /** The final block (../chain/finality.ts) the indexer applies up to. */
    final: string;
    current: boolean;
    rewinds: number;
    lastRewind?: { at: string; from: string; to: string; reopened: number; reason: string };
  };
  /** Consent decisions are made only while this is true; otherwise they are denied (503). */
  consent: { current: boolean; reason?: string };
  member: string;
  pendingChainWrites: number;
  /** Writes put back in flight by a rewind of the chain and not yet confirmed again. */
  recoveringChainWrites: number;
}

/** Every part of the answer is bounded by this, so `/healthz` answers within a second. */
const PART_TIMEOUT_MS = 700;
/** The chain counts as answering while the indexer polled it successfully this recently. */
const CHAIN_FRESH_MS = 2000;

export async function readiness(ctx: NodeContext): Promise<ReadinessReport> {
  const counts = within(
    ctx.db.query<{ pending: number; recovering: number }>(
      `SELECT count(*)::int AS pending, count(*) FILTER (WHERE reopened_at IS NOT NULL)::int AS recovering
       FROM chain_outbox WHERE status IN ('pending', 'signed')`,
    ),
  );
  // The indexer polls the head every 100 ms; wait briefly for a fresh poll rather than ask again.
  const [storeResult] = await Promise.all([counts, ctx.indexer.ensureFresh(300, PART_TIMEOUT_MS)]);
  const status = ctx.indexer.status;
  const chain = Date.now() - status.polledAt <= CHAIN_FRESH_MS ? 'ok' : 'unavailable';
  const current = status.block >= 0n && status.final - status.block <= 1n;
  const consent = consentStateIsCurrent(ctx);
  const store = storeResult.ok ? 'ok' : 'unavailable';
  const recovering = storeResult.ok ? (storeResult.value[0]?.recovering ?? 0) : 0;
  const rewind = status.lastRewind;
  return {
    ready: store === 'ok' && chain === 'ok' && current && consent.ok && recovering === 0,
    store,
    chain,
    indexer: {
      block: status.block.toString(),
      head: status.head.toString(),
      final: status.final.toString(),
      current,
      rewinds: status.rewinds,
      ...(rewind
        ? {
            lastRewind: {
              at: new Date(rewind.at).toISOString(),
              from: rewind.from.toString(),
              to: rewind.to.toString(),
              reopened: rewind.reopened,
              reason: rewind.reason,
            },
          }
        : {}),
    },
    consent: consent.ok
      ? { current: true }
      : { current: false, reason: `consent decisions are denied: ${consent.why}` },
    member: ctx.identity.account.address,
    pendingChainWrites: storeResult.ok ? (storeResult.value[0]?.pending ?? 0) : -1,
    recoveringChainWrites: recovering,
  };
}

async function within<T>(promise: Promise<T>): Promise<{ ok: true; value: T } | { ok: false }> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ ok: false }>(
    (r) => (timer = setTimeout(() => r({ ok: false }), PART_TIMEOUT_MS)),
  );
  const result = await Promise.race([
    promise.then(
      (value) => ({ ok: true as const, value }),
      () => ({ ok: false as const }),
    ),
    timeout,
  ]);
  clearTimeout(timer);
  return result;
}
