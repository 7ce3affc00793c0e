/**
 * Test driver (its own process, run by vault.crash.test.ts): a full node (embedded anvil,
 * PGlite, outbox, indexer, batcher) that writes resources in a loop and prints
 * `ack Type/id/version` after each write is acknowledged. The test SIGKILLs it at random.
 * With `drain`, it writes nothing and waits until every leaf is anchored and indexed.
 *   node bin/run-ts.js src/vault/testing/writeStreamScript.ts DATA_DIR write|drain
 */
import { loadConfig } from '../../config/config.ts';
import { stderrLogger } from '../../config/logger.ts';
import { startNode } from '../../node/startNode.ts';

const [dataDir, mode = 'write'] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: writeStreamScript.ts DATA_DIR write|drain');

const config = loadConfig(
  { 'data-dir': dataDir },
  { MEDLEDGER_BATCH_MAX_LEAVES: '25', MEDLEDGER_BATCH_MAX_DELAY_MS: '150' },
);
const node = await startNode({ config, logger: stderrLogger({ quiet: true }) });
process.stdout.write('ready\n');

if (mode === 'write') {
  for (let i = 0; ; i++) {
    const written = await node.vault.create({
      resourceType: 'Observation',
      status: 'final',
      code: { text: `stream ${i}` },
      valueQuantity: { value: i, unit: 'mmol/L' },
    });
    process.stdout.write(`ack Observation/${written.resource.id}/${written.versionId}\n`);
    if (i % 7 === 0) {
      const updated = await node.vault.update({ ...written.resource, status: 'amended' });
      process.stdout.write(`ack Observation/${updated.resource.id}/${updated.versionId}\n`);
    }
  }
} else {
  const deadline = Date.now() + 60_000;
  for (;;) {
    await node.recordBatcher.flush();
    const [open] = await node.db.query<{ pending: number; outbox: number }>(
      `SELECT (SELECT count(*)::int FROM record_versions v WHERE NOT EXISTS (
                 SELECT 1 FROM anchor_proofs p WHERE p.kind = 0 AND p.seq = v.seq)) AS pending,
              (SELECT count(*)::int FROM chain_outbox WHERE status IN ('pending', 'signed')) AS outbox`,
    );
    const head = await node.chain.publicClient.getBlockNumber({ cacheTime: 0 });
    if (open?.pending === 0 && open.outbox === 0 && node.indexer.status.block >= head) break;
    if (Date.now() > deadline) throw new Error(`not drained: ${JSON.stringify(open)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  process.stdout.write('drained\n');
  await node.stop();
  process.exit(0);
}
