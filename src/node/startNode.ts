/**
 * Starts a medledger node: database (migrated), chain (embedded anvil or external),
 * outbox worker, event indexer, and the HTTP server. `stop()` shuts them down in
 * reverse order. The HTTP layer and the CLI are thin layers over the returned context.
 *
 * Several processes may serve one PostgreSQL database: the background loops that must run once
 * (indexer, outbox, the batchers' timers, and what other modules add with `leadership.elect`) run
 * in the elected process only (cluster/Leadership.ts); the others follow the indexed consent state
 * (cluster/IndexFollower.ts). Idle, every loop sleeps long and is woken by the work notices the
 * database sends when there is work (cluster/schema.ts).
 */
import { mkdir } from 'node:fs/promises';
import { AUDIT_ANCHORS } from '../audit/auditAnchors.ts';
import { tableAuditSink } from '../audit/tableAuditSink.ts';
import { type ChainConnection, connectChain } from '../chain/connectChain.ts';
import { describeFinality, effectiveFinality } from '../chain/finality.ts';
import { ChainIndexer } from '../chain/indexer/ChainIndexer.ts';
import { ChainRootSet } from '../chain/indexer/ChainRootSet.ts';
import { loadNodeIdentity } from '../chain/nodeIdentity.ts';
import { OutboxWorker } from '../chain/outbox/OutboxWorker.ts';
import type { Config } from '../config/config.ts';
import type { Logger } from '../config/logger.ts';
import type { ChainIndexView, NodeContext } from '../context/NodeContext.ts';
import { FileKeyring } from '../crypto/FileKeyring.ts';
import { staticKeyring } from '../crypto/staticKeyring.ts';
import { rebuildSearchIndexIfRequested } from '../fhir/search/rebuildSearchIndex.ts';
import { searchIndexKeyFor } from '../fhir/search/SearchIndexKey.ts';
import { EmbeddedMaintenance, refreshStaleStatistics } from '../store/embeddedMaintenance.ts';
import { openDatabase } from '../store/openDatabase.ts';
import { AnchorBatcher } from '../vault/AnchorBatcher.ts';
import { RECORD_ANCHORS } from '../vault/anchorKinds.ts';
import { Vault } from '../vault/Vault.ts';
import { IndexFollower } from './cluster/IndexFollower.ts';
import { Leadership } from './cluster/Leadership.ts';
import { WORK_CHANNEL } from './cluster/schema.ts';
import { WorkNotices } from './cluster/WorkNotices.ts';
import { migrations } from './migrations.ts';

/**
 * How long each loop sleeps when it found nothing to do and nobody woke it. Work wakes them at
 * once (a write queued, a write mined, a block indexed: cluster/schema.ts); these bound how late
 * they notice what no notice announces: blocks written by other members of the consortium, and
 * retries after a failure. The indexer's stays well inside the access policy's consent staleness
 * (5 s), which a consent decision requires.
 */
export const IDLE_POLL_MS = { indexer: 1_000, follower: 1_000, outbox: 5_000 } as const;

export interface RunningNode extends NodeContext {
  stop(): Promise<void>;
}

export interface StartNodeOptions {
  config: Config;
  logger: Logger;
  /** Start the background workers (outbox, indexer). CLI one-shot commands may not need them. */
  workers?: boolean;
  /** Deploy the contracts to an external chain that has none recorded (`medledger chain deploy`). */
  deployIfMissing?: boolean;
  /** A long-running node adopts (and later stops) an embedded anvil left by a crashed predecessor. */
  adoptRunningAnvil?: boolean;
  /** What a new embedded database starts from (openDatabase's `embeddedTemplate`; tests only). */
  embeddedTemplate?: Blob | undefined;
}

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const { config, logger } = options;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const identity = await loadNodeIdentity(config.dataDir);
  const db = await openDatabase({
    migrations,
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    embeddedTemplate: options.embeddedTemplate,
  });
  let chain: ChainConnection | undefined;
  let background: { stop(): Promise<void> } | undefined;
  try {
    chain = await connectChain({
      config,
      identity,
      deployIfMissing: options.deployIfMissing ?? false,
      adoptRunningAnvil: options.adoptRunningAnvil ?? false,
      saveIntervalMs: config.chainTimings.embeddedSaveIntervalMs,
      onChainEvent: (message) => logger.warn(message),
    });
    const onError = (component: string) => (error: unknown) =>
      logger.warn(`${component}: ${error instanceof Error ? error.message : String(error)}`);
    const finality = await effectiveFinality(config, chain.backgroundClient, chain.anvil !== undefined);
    if (finality !== config.finality)
      logger.info(
        `the chain is a development node (anvil, Hardhat): a block is final at ${describeFinality(finality)} (set MEDLEDGER_CONFIRMATIONS to choose)`,
      );
    const leadership = new Leadership(db, logger);
    const outbox = new OutboxWorker({
      db: leadership.workerDb,
      publicClient: chain.backgroundClient,
      walletClient: chain.walletClient,
      addresses: chain.addresses,
      finality,
      maxInFlight: config.chainTimings.maxInFlight,
      feeBumpAfterMs: config.chainTimings.feeBumpAfterMs,
      pollIntervalMs: IDLE_POLL_MS.outbox,
      onError: onError('outbox'),
    });
    const roots = await ChainRootSet.load({
      publicClient: chain.publicClient,
      anchors: chain.addresses.anchors,
      member: identity.account.address,
      fromBlock: BigInt(chain.addresses.deployBlock),
    });
    const indexer = new ChainIndexer({
      db: leadership.workerDb,
      publicClient: chain.backgroundClient,
      addresses: chain.addresses,
      finality,
      pollIntervalMs: IDLE_POLL_MS.indexer,
      onError: onError('indexer'),
      onRootAnchored: (root) => roots.add(root),
      onRootsDropped: (dropped) => roots.drop(dropped),
      onRewound: () => outbox.notify(),
    });
    const follower = new IndexFollower({
      db,
      publicClient: chain.backgroundClient,
      finality,
      pollIntervalMs: IDLE_POLL_MS.follower,
      onError: onError('index follower'),
      onRewound: (rewind) => {
        logger.warn(`index follower: ${rewind.reason}; consent view loaded afresh at block ${rewind.to}`);
        // Which of this node's roots went with the dropped blocks is the leader's to know: read them again.
        roots.rescan().catch(onError('roots after a rewind'));
      },
    });
    const keyring = config.kek ? staticKeyring(config.kek) : await FileKeyring.open(config.dataDir);
    const recordBatcher = new AnchorBatcher(db, RECORD_ANCHORS, {
      maxLeaves: config.anchoring.maxLeaves,
      maxDelayMs: config.anchoring.maxDelayMs,
      onError: onError('anchoring'),
      onBatch: () => outbox.notify(),
    });
    const auditBatcher = new AnchorBatcher(db, AUDIT_ANCHORS, {
      maxLeaves: config.anchoring.maxLeaves,
      maxDelayMs: config.anchoring.maxDelayMs,
      onError: onError('audit anchoring'),
      onBatch: () => outbox.notify(),
    });
    const loops = options.workers !== false;
    // The leader indexes (a one-shot command catches up once); the others follow what it indexed.
    leadership.elect({
      start: async () => {
        await indexer.init();
        if (loops) indexer.start();
      },
      stop: () => indexer.stop(),
    });
    leadership.whileFollowing({
      start: () => (loops ? follower.start() : follower.init()),
      stop: () => follower.stop(),
    });
    if (loops) {
      leadership.elect(outbox);
      // Every process batches its own writes (by size, and within the delay); the elected one also
      // sweeps up what any process left. Idle, no batcher runs a statement.
      for (const batcher of [recordBatcher, auditBatcher]) {
        leadership.elect({ start: () => batcher.start({ sweep: true }), stop: () => batcher.stop() });
        leadership.whileFollowing({ start: () => batcher.start(), stop: () => batcher.stop() });
      }
      // The embedded database has no autovacuum: statistics and dead rows kept up by the node.
      if (db.kind === 'pglite') leadership.elect(new EmbeddedMaintenance(db, onError('maintenance')));
    }
    const work = new WorkNotices();
    const refreshHolds = () =>
      void (leadership.leading ? indexer.refreshConsentHolds() : follower.refreshConsentHolds()).catch(
        onError('consent holds'),
      );
    // A write queued by any process: the outbox sends it, and a revocation among them holds here.
    work.on('outbox', () => {
      outbox.notify();
      refreshHolds();
    });
    work.on('chain', () => indexer.wake());
    work.on('indexed', () => follower.wake());
    const listening = await db.listen(WORK_CHANNEL, (payload) => work.dispatch(payload));
    background = {
      async stop() {
        await leadership.stop();
        await listening.close();
      },
    };
    await leadership.start({ campaign: loops });
    const view: ChainIndexView = {
      get consent() {
        return leadership.leading ? indexer.consent : follower.consent;
      },
      get status() {
        return leadership.leading ? indexer.status : follower.status;
      },
      waitForBlock: (block, timeoutMs) =>
        leadership.leading ? indexer.waitForBlock(block, timeoutMs) : follower.waitForBlock(block, timeoutMs),
      ensureFresh: (maxAgeMs, timeoutMs) =>
        leadership.leading
          ? indexer.ensureFresh(maxAgeMs, timeoutMs)
          : follower.ensureFresh(maxAgeMs, timeoutMs),
      refreshConsentHolds: () =>
        leadership.leading ? indexer.refreshConsentHolds() : follower.refreshConsentHolds(),
    };
    const audit = tableAuditSink(db, { keyring, batcher: auditBatcher });
    const vault = new Vault({
      db,
      keyring,
      rootSource: roots,
      batcher: recordBatcher,
    });
    const rebuilt = await rebuildSearchIndexIfRequested(db, vault, await searchIndexKeyFor(config.dataDir));
    // Data written while no node ran (an import by an older release) gets its statistics now.
    await refreshStaleStatistics(db);
    if (rebuilt)
      logger.info(
        `search index rebuilt from the vault: ${rebuilt.indexed} resources in ${rebuilt.seconds.toFixed(1)} s` +
          (rebuilt.skipped > 0 ? ` (${rebuilt.skipped} deleted, erased or unreadable, not indexed)` : ''),
      );
    const connected = chain;
    return {
      config,
      db,
      identity,
      chain: connected,
      outbox,
      indexer: view,
      leadership,
      work,
      roots,
      keyring,
      vault,
      recordBatcher,
      auditBatcher,
      audit,
      logger,
      async stop() {
        await audit.flush();
        await leadership.stop();
        await recordBatcher.stop();
        await auditBatcher.stop();
        await listening.close();
        await db.close();
        await connected.close();
      },
    };
  } catch (error) {
    await background?.stop().catch(() => {});
    await db.close().catch(() => {});
    await chain?.close();
    throw error;
  }
}
