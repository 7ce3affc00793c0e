/**
 * `medledger verify`: an independent check of a node's database against the chain. It trusts only
 * the chain (RootAnchored events and Anchors.nextSequence) and recomputes everything else from the
 * stored rows: leaves, batch trees, proofs, order and completeness of record versions and audit
 * events. With the keys it also decrypts and recomputes every content commitment. Never writes.
 */
import type { Address, PublicClient } from 'viem';
import { loadAuditIndexKey } from '../audit/blindIndex.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Db, Queryable } from '../store/db.ts';
import { auditEventAdapter } from './auditEventAdapter.ts';
import { fetchAnchoredRoots } from './fetchAnchoredRoots.ts';
import { recordVersionAdapter } from './recordVersionAdapter.ts';
import { emptyCounts, type LeafKindName, type VerifyFinding, type VerifyReport } from './VerifyReport.ts';
import { verifyLeafTable } from './verifyLeafTable.ts';

export interface VerifyDatabaseOptions {
  /**
   * The database (read in one read-only REPEATABLE READ transaction: a consistent snapshot), or an
   * open transaction (tests verify inside one and roll back).
   */
  db: Queryable & { transaction?: Db['transaction'] };
  chain: {
    publicClient: PublicClient;
    anchors: Address;
    /** The member (node account) whose anchors are checked. */
    member: Address;
    /** Block the contracts were deployed in. */
    fromBlock?: bigint;
  };
  /** Undefined: ciphertext side only (`--no-keys`). */
  keyring?: Keyring | undefined;
  /** A leaf or batch pending longer than this is a finding: the anchoring delay plus slack. */
  maxPendingAgeMs: number;
  /** Rows per read. Default 5,000. */
  chunkSize?: number;
  /** Findings listed at most (the rest are counted). Default 1,000. */
  maxFindings?: number;
  now?: Date;
  onProgress?: (progress: { kind: LeafKindName; done: number; total: number }) => void;
}

export const VERIFY_CHECKS = [
  'every record version and audit event leaf recomputes from its stored columns',
  'with keys: every row decrypts under its identity and its content commitment recomputes',
  'with keys: audit clear columns and blind indexes agree with the encrypted event',
  'every batch is a contiguous run of rows in seq order, at indexes 0..n-1, with its recorded count and range',
  'every batch tree rebuilt from its leaves has the root anchored on chain; every stored proof matches the tree',
  'local batch sequences run 0..n-1 and equal the chain: none missing, none extra, same roots',
  'audit seq runs 1, 2, 3, ... without a gap; no batched row follows an unbatched one',
  'nothing pending longer than the anchoring delay plus slack',
] as const;

export async function verifyDatabase(options: VerifyDatabaseOptions): Promise<VerifyReport> {
  const { db } = options;
  if (!db.transaction) return verifyIn(db, options);
  return db.transaction(async (tx) => {
    await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    return verifyIn(tx, options);
  });
}

async function verifyIn(db: Queryable, options: VerifyDatabaseOptions): Promise<VerifyReport> {
  const started = performance.now();
  const now = options.now ?? new Date();
  const maxFindings = options.maxFindings ?? 1000;
  const findings: VerifyFinding[] = [];
  let moreFindings = 0;
  const report = (finding: VerifyFinding) => {
    if (findings.length < maxFindings) findings.push(finding);
    else moreFindings++;
  };
  const counts = { records: emptyCounts(), audit: emptyCounts() };
  const [records, audit, totals] = await Promise.all([
    fetchAnchoredRoots({ ...options.chain, kind: 0 }),
    fetchAnchoredRoots({ ...options.chain, kind: 1 }),
    db.query<{ records: number; audit: number; index_keys: number }>(
      `SELECT (SELECT count(*) FROM record_versions)::int AS records, (SELECT count(*) FROM audit_events)::int AS audit,
         (SELECT count(*) FROM audit_keys)::int AS index_keys`,
    ),
  ]);
  const total = totals[0] ?? { records: 0, audit: 0, index_keys: 0 };
  let indexKey: Uint8Array | undefined;
  if (options.keyring && total.audit > 0) {
    if (total.index_keys === 0)
      report({ kind: 'audit', check: 'audit-index-key', detail: 'the audit index key is missing' });
    else {
      try {
        indexKey = await loadAuditIndexKey(db, options.keyring);
      } catch {
        report({
          kind: 'audit',
          check: 'audit-index-key',
          detail: 'the audit index key does not unwrap with the keys held',
        });
      }
    }
  }
  const common = {
    db,
    maxPendingAgeMs: options.maxPendingAgeMs,
    now,
    chunkSize: options.chunkSize ?? 5000,
    report,
  };
  let done = 0;
  await verifyLeafTable({
    ...common,
    adapter: recordVersionAdapter(options.keyring),
    chain: records,
    counts: counts.records,
    onRows: (n) => {
      done += n;
      options.onProgress?.({ kind: 'records', done, total: total.records });
    },
  });
  done = 0;
  await verifyLeafTable({
    ...common,
    adapter: auditEventAdapter(options.keyring, indexKey),
    chain: audit,
    counts: counts.audit,
    onRows: (n) => {
      done += n;
      options.onProgress?.({ kind: 'audit', done, total: total.audit });
    },
  });
  return {
    ok: findings.length === 0,
    withKeys: options.keyring !== undefined,
    counts,
    checks: options.keyring ? [...VERIFY_CHECKS] : VERIFY_CHECKS.filter((c) => !c.startsWith('with keys')),
    findings,
    moreFindings,
    durationMs: Math.round(performance.now() - started),
  };
}
