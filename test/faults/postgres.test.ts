/**
 * The PostgreSQL server restarts under load (a private cluster this test owns, never the
 * shared one): while it is down every request fails cleanly with 503 and an OperationOutcome
 * (never a 500, never a crash), and once it is back the same medledger process serves again
 * with nothing acknowledged lost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killEmbeddedAnvil, type NodeProcess } from '../support/nodeProcess.ts';
import {
  type Acknowledged,
  expectAcknowledgedReadable,
  expectConsistentAfterCrashes,
  faultIterations,
  startFaultNode,
  startWriteStream,
  systemBearer,
  waitFor,
  waitForAnchoringDrained,
} from './support/faults.ts';
import { type PrivatePostgres, startPrivatePostgres } from './support/privatePostgres.ts';

describe('the PostgreSQL server restarted under load', () => {
  let dataDir = '';
  let postgres: PrivatePostgres | undefined;
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await killEmbeddedAnvil(dataDir);
    await postgres?.destroy();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('answers 503 while it is down and recovers without restarting medledger', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-fault-pg-'));
    postgres = await startPrivatePostgres();
    const env = { DATABASE_URL: postgres.url };
    node = await startFaultNode(dataDir, env);
    const pid = node.child.pid;
    const url = () => (node as NodeProcess).url;
    const admin = await systemBearer(dataDir);
    const acknowledged: Acknowledged[] = [];

    for (let round = 0; round < faultIterations(1); round++) {
      const writes = startWriteStream(url, admin, `pg-r${round}`, { concurrency: 4, okStatuses: [503] });
      const readStatuses: number[] = [];
      let reading = true;
      const reader = (async () => {
        while (reading) {
          const target = writes.acknowledged[writes.acknowledged.length - 1];
          const r = await fetch(target ? `${url()}/fhir/Observation/${target.id}` : `${url()}/healthz`, {
            headers: { authorization: admin },
          });
          const body = (await r.json()) as { resourceType?: string };
          readStatuses.push(r.status);
          if (r.status === 503 && target) expect(body.resourceType).toBe('OperationOutcome');
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      await waitFor('writes before the restart', async () => writes.acknowledged.length >= 10);

      await postgres.stop();
      await waitFor(
        'requests to be refused while PostgreSQL is down',
        async () => writes.refused.length >= 3,
      ).catch((error: Error) => {
        throw new Error(`${error.message}; node ${node?.child.exitCode}:\n${node?.output().slice(-3000)}`);
      });
      const health = await fetch(`${url()}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ ready: false, store: 'unavailable' });
      await postgres.start();

      const before = writes.acknowledged.length;
      await waitFor('writes to succeed again', async () => writes.acknowledged.length >= before + 10);
      reading = false;
      await reader;
      await writes.stop();
      expect(writes.unexpected).toEqual([]);
      expect(new Set(writes.refused)).toEqual(new Set([503]));
      expect(readStatuses.filter((s) => s !== 200 && s !== 503)).toEqual([]);
      acknowledged.push(...writes.acknowledged);
    }
    // The same process served throughout.
    expect(node.child.pid).toBe(pid);
    expect(node.child.exitCode).toBeNull();
    await expectAcknowledgedReadable(url(), admin, acknowledged);
    await waitForAnchoringDrained(url());
    expect(await node.stop('SIGTERM')).toBe(0);
    node = undefined;
    await expectConsistentAfterCrashes(dataDir, env);
  }, 600_000);
});
