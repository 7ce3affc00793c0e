/**
 * Starts a medledger node: database (migrated), chain (embedded anvil or external),
 * outbox worker, event indexer, and the HTTP server. `stop()` shuts them down in
 * reverse order. The HTTP layer and the CLI are thin layers over the returned context.
 */
import { mkdir } from 'node:fs/promises';
import { AUDIT_ANCHORS } from '../audit/auditAnchors.ts';
import { type TableAuditSink, tableAuditSink } from '../audit/tableAuditSink.ts';
import { type ChainConnection, connectChain } from '../chain/connectChain.ts';
import { ChainIndexer } from '../chain/indexer/ChainIndexer.ts';
import { ChainRootSet } from '../chain/indexer/ChainRootSet.ts';
import { loadNodeIdentity, type NodeIdentity } from '../chain/nodeIdentity.ts';
import { OutboxWorker } from '../chain/outbox/OutboxWorker.ts';
import type { Config } from '../config/config.ts';
import { FileKeyring } from '../crypto/FileKeyring.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import { staticKeyring } from '../crypto/staticKeyring.ts';
import { rebuildSearchIndexIfRequested } from '../fhir/search/rebuildSearchIndex.ts';
import { searchIndexKeyFor } from '../fhir/search/SearchIndexKey.ts';
import type { Db } from '../store/db.ts';
import { openDatabase } from '../store/openDatabase.ts';
import { AnchorBatcher } from '../vault/AnchorBatcher.ts';
import { RECORD_ANCHORS } from '../vault/anchorKinds.ts';
import { Vault } from '../vault/Vault.ts';
import type { Logger } from './logger.ts';

export interface NodeContext {
  config: Config;
  db: Db;
  identity: NodeIdentity;
  chain: ChainConnection;
  outbox: OutboxWorker;
  indexer: ChainIndexer;
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
}

export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const { config, logger } = options;
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  const identity = await loadNodeIdentity(config.dataDir);
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  let chain: ChainConnection | undefined;
  try {
    chain = await connectChain({
      config,
      identity,
      deployIfMissing: options.deployIfMissing ?? false,
      adoptRunningAnvil: options.adoptRunningAnvil ?? false,
    });
    const onError = (component: string) => (error: unknown) =>
      logger.warn(`${component}: ${error instanceof Error ? error.message : String(error)}`);
    const outbox = new OutboxWorker({
      db,
      publicClient: chain.publicClient,
      walletClient: chain.walletClient,
      addresses: chain.addresses,
      confirmations: config.confirmations,
      onError: onError('outbox'),
    });
    const roots = await ChainRootSet.load({
      publicClient: chain.publicClient,
      anchors: chain.addresses.anchors,
      member: identity.account.address,
      fromBlock: BigInt(chain.addresses.deployBlock),
    });
    const indexer = new ChainIndexer({
      db,
      publicClient: chain.publicClient,
      addresses: chain.addresses,
      onError: onError('indexer'),
      onRootAnchored: (root) => roots.add(root),
    });
    await indexer.init();
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
    const audit = tableAuditSink(db, { keyring, batcher: auditBatcher });
    const vault = new Vault({
      db,
      keyring,
      rootSource: roots,
      batcher: recordBatcher,
    });
    const rebuilt = await rebuildSearchIndexIfRequested(db, vault, await searchIndexKeyFor(config.dataDir));
    if (rebuilt)
      logger.info(
        `search index rebuilt from the vault: ${rebuilt.indexed} resources in ${rebuilt.seconds.toFixed(1)} s` +
          (rebuilt.skipped > 0 ? ` (${rebuilt.skipped} deleted, erased or unreadable, not indexed)` : ''),
      );
    if (options.workers !== false) {
      outbox.start();
      indexer.start();
      recordBatcher.start();
      auditBatcher.start();
    }
    const connected = chain;
    return {
      config,
      db,
      identity,
      chain: connected,
      outbox,
      indexer,
      roots,
      keyring,
      vault,
      recordBatcher,
      auditBatcher,
      audit,
      logger,
      async stop() {
        await audit.flush();
        await recordBatcher.stop();
        await auditBatcher.stop();
        await outbox.stop();
        await indexer.stop();
        await db.close();
        await connected.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => {});
    await chain?.close();
    throw error;
  }
}
