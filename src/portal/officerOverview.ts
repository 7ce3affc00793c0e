/**
 * What a privacy officer watches, in one read: the chain (head, indexed block, members),
 * chain writes and anchor batches still pending, break-glass openings of the last 30 days (the
 * most recent first, each with its review or none yet), integrity alerts raised on read, and the latest
 * `verify` result run from the portal.
 */
import type { NodeContext } from '../context/NodeContext.ts';
import { readLatestVerify, type StoredVerifyResult } from './latestVerify.ts';

export interface OfficerOverview {
  chain: {
    chainId: number;
    head: string;
    indexedBlock: string;
    node: string;
    members: { address: string; name: string; endpoint: string; active: boolean }[];
  };
  outbox: { pending: number; signed: number; confirmed: number; failed: number };
  pendingAnchors: { records: number; audit: number };
  breakGlass: {
    patient: string;
    practitioner: string;
    member: string;
    expiresAt: string;
    block: string;
    txHash: string;
    open: boolean;
    /** The officer's review (reviewBreakGlass), or null while it awaits one. */
    review: { outcome: string; reviewedAt: string } | null;
  }[];
  integrityAlerts: {
    id: string;
    subject: string;
    resource: string | null;
    code: string;
    detail: string;
    at: string;
  }[];
  latestVerify: StoredVerifyResult | undefined;
}

const BREAK_GLASS_REVIEW_SECONDS = 30 * 24 * 3600;

export async function officerOverview(ctx: NodeContext): Promise<OfficerOverview> {
  const { db, chain, indexer } = ctx;
  const since = Math.floor(Date.now() / 1000) - BREAK_GLASS_REVIEW_SECONDS;
  const [head, members, outbox, anchors, emergencies, alerts, latestVerify] = await Promise.all([
    chain.publicClient.getBlockNumber({ cacheTime: 0 }),
    db.query<{ address: string; name: string; endpoint: string; active: boolean }>(
      'SELECT address, name, endpoint, active FROM chain_members ORDER BY block_number, address',
    ),
    db.query<{ status: string; n: number }>(
      'SELECT status, count(*)::int AS n FROM chain_outbox GROUP BY status',
    ),
    db.query<{ kind: number; n: number }>(
      `SELECT b.kind, count(*)::int AS n FROM anchor_batches b
       LEFT JOIN chain_anchored_roots r ON lower(r.member) = $1 AND r.kind = b.kind AND r.sequence = b.sequence
       WHERE r.root IS NULL GROUP BY b.kind`,
      [ctx.identity.account.address.toLowerCase()],
    ),
    db.query<{
      patient: string;
      practitioner: string;
      member: string;
      expires_at: string;
      block_number: string;
      tx_hash: string;
      outcome: string | null;
      reviewed_at: Date | string | null;
    }>(
      `SELECT e.patient, e.practitioner, e.member, e.expires_at::text, e.block_number::text, e.tx_hash,
         r.outcome, r.reviewed_at
       FROM chain_emergency_access e LEFT JOIN break_glass_reviews r ON r.tx_hash = lower(e.tx_hash)
       WHERE e.expires_at > $1 ORDER BY e.block_number DESC LIMIT 100`,
      [since],
    ),
    db.query<{
      id: string;
      subject: string;
      resource_type: string | null;
      resource_id: string | null;
      version_id: number | null;
      code: string;
      detail: string;
      at: Date;
    }>(
      `SELECT id::text, subject, resource_type, resource_id, version_id, code, detail, at
       FROM integrity_alerts ORDER BY id DESC LIMIT 100`,
    ),
    readLatestVerify(ctx.config.dataDir),
  ]);
  const counts = Object.fromEntries(outbox.map((row) => [row.status, row.n]));
  const pending = Object.fromEntries(anchors.map((row) => [row.kind, row.n]));
  const now = Math.floor(Date.now() / 1000);
  return {
    chain: {
      chainId: chain.addresses.chainId,
      head: head.toString(),
      indexedBlock: indexer.status.block.toString(),
      node: ctx.identity.account.address.toLowerCase(),
      members,
    },
    outbox: {
      pending: counts.pending ?? 0,
      signed: counts.signed ?? 0,
      confirmed: counts.confirmed ?? 0,
      failed: counts.failed ?? 0,
    },
    pendingAnchors: { records: pending[0] ?? 0, audit: pending[1] ?? 0 },
    breakGlass: emergencies.map((e) => ({
      patient: e.patient,
      practitioner: e.practitioner,
      member: e.member,
      expiresAt: new Date(Number(e.expires_at) * 1000).toISOString(),
      block: e.block_number,
      txHash: e.tx_hash,
      open: Number(e.expires_at) > now,
      review:
        e.outcome === null || e.reviewed_at === null
          ? null
          : { outcome: e.outcome, reviewedAt: new Date(e.reviewed_at).toISOString() },
    })),
    integrityAlerts: alerts.map((a) => ({
      id: a.id,
      subject: a.subject,
      resource:
        a.resource_type === null
          ? null
          : `${a.resource_type}/${a.resource_id}${a.version_id === null ? '' : `/_history/${a.version_id}`}`,
      code: a.code,
      detail: a.detail,
      at: new Date(a.at).toISOString(),
    })),
    latestVerify,
  };
}
