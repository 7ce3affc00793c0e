/**
 * What a running node hands the layers above it (access, FHIR, exchange, portal, server, CLI):
 * its configuration, database, chain connection and workers, vault, audit log and keys. Declared
 * here, low in the house, so that those layers depend on this shape and not on the composition
 * root that builds it (node/startNode.ts). Election and work notices are named by the few
 * capabilities the layers above use; node/cluster/ implements them.
 */
import type { TableAuditSink } from '../audit/tableAuditSink.ts';
import type { ChainConnection } from '../chain/connectChain.ts';
import type { IndexerStatus } from '../chain/indexer/ChainIndexer.ts';
import type { ChainRootSet } from '../chain/indexer/ChainRootSet.ts';
import type { ConsentCache } from '../chain/indexer/ConsentCache.ts';
import type { NodeIdentity } from '../chain/nodeIdentity.ts';
import type { OutboxWorker } from '../chain/outbox/OutboxWorker.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../config/logger.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import type { Db } from '../store/db.ts';
import type { AnchorBatcher } from '../vault/AnchorBatcher.ts';
import type { Vault } from '../vault/Vault.ts';

/** A background loop run only by the leader (or, {@link Election.whileFollowing}, only by the others). */
export interface ElectedWorker {
  start(): void | Promise<void>;
  stop(): Promise<void>;
}

/**
 * The leader election of the processes serving one database (node/cluster/Leadership.ts): loops
 * that must run once per institution join it; on PGlite the one process always leads.
 */
export interface Election {
  /** Whether this process leads now. */
  readonly leading: boolean;
  /** Runs `worker` while this process leads (started on election, stopped on losing it). */
  elect(worker: ElectedWorker): void;
  /** Runs `worker` while this process does not lead. */
  whileFollowing(worker: ElectedWorker): void;
}

/**
 * What a committed change tells the loops of every process (node/cluster/schema.ts):
 * `outbox` a chain write was queued, `chain` one was confirmed, `indexed` the indexer applied
 * blocks, `notice` a patient notice was queued.
 */
export type WorkKind = 'outbox' | 'chain' | 'indexed' | 'notice';

/** Wake-ups on work notices (node/cluster/WorkNotices.ts). */
export interface WorkWakeups {
  /** Calls `wake` on every notice of `kind` (and when the listening connection is back). */
  on(kind: WorkKind, wake: () => void): void;
}

/** The consent state as this process sees it: from its own indexer when it leads, else followed. */
export interface ChainIndexView {
  readonly consent: ConsentCache;
  readonly status: IndexerStatus;
  /** Resolves once the view includes `block` (e.g. the block a write was mined in). */
  waitForBlock(block: bigint, timeoutMs?: number): Promise<void>;
  /** Resolves once the view was refreshed within `maxAgeMs`, or after `timeoutMs` at most. */
  ensureFresh(maxAgeMs: number, timeoutMs: number): Promise<void>;
  /** Re-reads the relayed revocations not yet final on chain (after relaying one). */
  refreshConsentHolds(): Promise<void>;
}

export interface NodeContext {
  config: Config;
  db: Db;
  identity: NodeIdentity;
  chain: ChainConnection;
  outbox: OutboxWorker;
  indexer: ChainIndexView;
  /** Whether this process leads the node's background work, and how other loops join it. */
  leadership: Election;
  /** Wake-ups sent by the database when work arrives (from any process of the node). */
  work: WorkWakeups;
  /** This node's anchored roots as the chain has them (never from the database): checked on read. */
  roots: ChainRootSet;
  keyring: Keyring;
  vault: Vault;
  recordBatcher: AnchorBatcher;
  /** Batches and anchors audit events (kind 1). */
  auditBatcher: AnchorBatcher;
  /** The one write path of the audit log (sealed, group-committed). */
  audit: TableAuditSink;
  logger: Logger;
}
