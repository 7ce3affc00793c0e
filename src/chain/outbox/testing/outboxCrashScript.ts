/**
 * Test driver (run as its own process by outbox.crash.test.ts): opens the node on a
 * data directory, makes sure one anchor write is in the outbox, and drives the outbox
 * worker until it is empty, killing itself with SIGKILL at the requested point.
 *   node bin/run-ts.js src/chain/outbox/testing/outboxCrashScript.ts DATA_DIR [after-sign|after-broadcast|none]
 */
import { loadConfig } from '../../../config/config.ts';
import { stderrLogger } from '../../../config/logger.ts';
import { startNode } from '../../../node/startNode.ts';
import { enqueueChainWrite } from '../enqueueChainWrite.ts';
import { type OutboxCrashPoint, OutboxWorker } from '../OutboxWorker.ts';

const [dataDir, crashAt = 'none'] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: outboxCrashScript.ts DATA_DIR [CRASH_POINT]');

const node = await startNode({
  config: loadConfig({ 'data-dir': dataDir }, {}),
  logger: stderrLogger(),
  workers: false,
});
await node.db.transaction((tx) =>
  enqueueChainWrite(tx, {
    dedupeKey: 'anchor:records:0',
    contract: 'anchors',
    functionName: 'anchor',
    args: [0, '0', 1, `0x${'ab'.repeat(32)}`],
  }),
);
const worker = new OutboxWorker({
  db: node.db,
  publicClient: node.chain.publicClient,
  walletClient: node.chain.walletClient,
  addresses: node.chain.addresses,
  onStep(point: OutboxCrashPoint) {
    if (point === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
await worker.drain();
const rows = await node.db.query<{ status: string; tx_hash: string }>(
  'SELECT status, tx_hash FROM chain_outbox',
);
process.stdout.write(`${JSON.stringify(rows)}\n`);
await node.db.close();
process.exit(0); // leave the embedded anvil running for the test to inspect
