/**
 * SIGKILL of the real `medledger start` process at random points while clients write over
 * the FHIR API, batches are being anchored, an import is running and keys are being rotated
 * (the CLI commands run inside the node, routed over its admin socket). After every restart:
 * nothing acknowledged is lost; at the end nothing is anchored twice and `medledger verify`
 * passes. (src/vault/vault.crash.test.ts and src/chain/outbox/outbox.crash.test.ts kill
 * in-process drivers; src/ehr/import.test.ts kills the import command itself.)
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killEmbeddedAnvil, type NodeProcess } from '../support/nodeProcess.ts';
import {
  type Acknowledged,
  expectAcknowledgedReadable,
  expectConsistentAfterCrashes,
  FAST_BATCHES,
  faultIterations,
  medledger,
  randomBetween,
  startFaultNode,
  startWriteStream,
  systemBearer,
  waitFor,
  waitForAnchoringDrained,
} from './support/faults.ts';

type Scenario = 'api-writes' | 'anchoring' | 'import' | 'keys-rotate';
// Writes over the API run (and batches are anchored) in every scenario; the default suite
// kills during an import and during a key rotation, `npm run test:faults` all four each round.
const SCENARIOS: Scenario[] =
  faultIterations(1) > 1 ? ['import', 'keys-rotate', 'api-writes', 'anchoring'] : ['import', 'keys-rotate'];

/** NDJSON of Observations with identifiers: imported in chunks of 500, each its own transaction. */
function importNdjson(observations: number): string {
  return Array.from({ length: observations }, (_, i) =>
    JSON.stringify({
      resourceType: 'Observation',
      identifier: [{ system: 'urn:medledger:faults', value: `obs-${i}` }],
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      valueQuantity: { value: 60 + (i % 40), unit: '/min' },
    }),
  ).join('\n');
}

/** Starts a CLI command that the running node executes (routed over its admin socket). */
function startCli(args: string[]): ChildProcess {
  return spawn('node', ['bin/medledger.js', ...args], {
    env: { ...process.env, ...FAST_BATCHES },
    stdio: 'ignore',
  });
}

describe('the node SIGKILLed at random points', () => {
  let dataDir = '';
  let bundleFile = '';
  afterAll(async () => {
    if (bundleFile) await rm(bundleFile, { force: true });
    await killEmbeddedAnvil(dataDir);
    if (!process.env.MEDLEDGER_FAULT_KEEP) await rm(dataDir, { recursive: true, force: true });
  });

  it('loses nothing acknowledged, anchors nothing twice, and verify passes', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-fault-kill-'));
    // The import: 1,200 Observations as NDJSON, each with an identifier (import dedupes by
    // identifier, so the re-run after a kill finds the chunks that were committed).
    const bundle = join(dataDir, '..', `${dataDir.split('/').pop()}-import.ndjson`);
    bundleFile = bundle;
    await writeFile(bundle, importNdjson(1200));
    const authorization = await systemBearer(dataDir);
    const rounds = faultIterations(1);
    const acknowledged: Acknowledged[] = [];
    let node: NodeProcess = await startFaultNode(dataDir);
    let kills = 0;
    for (let round = 0; round < rounds; round++) {
      for (const scenario of SCENARIOS) {
        const writes = startWriteStream(() => node.url, authorization, `r${round}-${scenario}`);
        await waitFor('some writes to be acknowledged', async () => writes.acknowledged.length >= 3);
        let cli: ChildProcess | undefined;
        if (scenario === 'import') {
          cli = startCli(['import', bundle, '--data-dir', dataDir, '--json']);
        } else if (scenario === 'keys-rotate') {
          cli = startCli(['keys', 'rotate', '--data-dir', dataDir, '--json']);
        }
        // Anchoring: let writes build up for a batch or more, then kill while batches are cut,
        // signed and broadcast (the batch delay is 150 ms).
        const delay = scenario === 'anchoring' ? randomBetween(1500, 3000) : randomBetween(200, 2500);
        await new Promise((r) => setTimeout(r, delay));
        node.child.kill('SIGKILL');
        await node.stop();
        kills++;
        cli?.kill('SIGKILL');
        await writes.stop();
        expect(writes.unexpected).toEqual([]);
        acknowledged.push(...writes.acknowledged);

        node = await startFaultNode(dataDir);
        // Everything acknowledged before this kill (and every earlier one) is still there.
        await expectAcknowledgedReadable(node.url, authorization, writes.acknowledged);
      }
    }
    expect(kills).toBe(rounds * SCENARIOS.length);
    expect(acknowledged.length).toBeGreaterThan(kills);

    // The interrupted jobs finish when run again.
    const rotated = await medledger(['keys', 'rotate', '--data-dir', dataDir, '--json']);
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ failed: 0 });
    const imported = await medledger(['import', bundle, '--data-dir', dataDir, '--json']);
    expect(imported.code, `${imported.stdout.slice(0, 3000)}\n${node.output().slice(-6000)}`).toBe(0);
    expect(JSON.parse(imported.stdout)).toMatchObject({ resources: 1200, failed: 0 });

    await expectAcknowledgedReadable(node.url, authorization, acknowledged);
    await waitForAnchoringDrained(node.url);
    expect(await node.stop('SIGTERM')).toBe(0);
    await expectConsistentAfterCrashes(dataDir);
  }, 900_000);
});
