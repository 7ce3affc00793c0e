import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../fhir/testing/startTestNode.ts';
import { importFiles } from './importFiles.ts';

/** Observations tagged with `run` so each test counts only its own; the listed lines are invalid. */
function observations(run: string, count: number, invalid: Record<number, object>) {
  return Array.from({ length: count }, (_, i) => ({
    resourceType: 'Observation',
    identifier: [{ system: 'urn:test:pool', value: `${run}-${i}` }],
    status: 'final',
    code: { text: `pool ${run} ${i}` },
    valueQuantity: { value: i, unit: 'mmHg' },
    ...(invalid[i + 1] ?? {}),
  }));
}

const INVALID = {
  3: { status: 'bogus' }, // not in the required ValueSet
  8: { valueQuantity: { value: 'many' } }, // not a decimal
};

// The same cases validated by a worker thread (as a large import does) and on this thread.
describe.each([1, 0])('import with %i validation worker threads', (workers) => {
  let t: TestNode;
  let dir: string;
  beforeAll(async () => {
    t = await startTestNode();
    dir = await mkdtemp(join(tmpdir(), 'medledger-pool-'));
  });
  afterAll(async () => {
    await t?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** How many of the run's Observations 1, 5 and 12 are stored (found by identifier). */
  const stored = async (run: string) => {
    const token = await t.bearer({ kind: 'system', scope: 'system/*.rs' });
    const ids = [0, 4, 11].map((i) => `urn:test:pool|${run}-${i}`).join(',');
    const response = await fetch(
      `${t.fhirUrl}/Observation?identifier=${encodeURIComponent(ids)}&_summary=count`,
      {
        headers: { authorization: token },
      },
    );
    expect(response.status).toBe(200);
    return ((await response.json()) as { total: number }).total;
  };

  it('NDJSON: the good lines import, each bad line is reported with its line number and the element path', async () => {
    const run = `nd${workers}-${Date.now()}`;
    const file = join(dir, `${run}.ndjson`);
    await writeFile(
      file,
      `${observations(run, 12, INVALID)
        .map((o) => JSON.stringify(o))
        .join('\n')}\n`,
    );
    const summary = await importFiles(t.node, [file], { validationWorkers: workers });
    expect(summary.byType.Observation?.created).toBe(10);
    expect(summary.failed).toBe(2);
    expect(summary.failures.map((f) => f.line)).toEqual([3, 8]);
    expect(summary.failures[0]?.reason).toMatch(/Observation\.status/);
    expect(summary.failures[1]?.reason).toMatch(/Observation\.value(Quantity)?/);
    expect(await stored(run)).toBe(3);
  });

  it('a transaction Bundle with one invalid entry stores nothing and names the element', async () => {
    const run = `tx${workers}-${Date.now()}`;
    const file = join(dir, `${run}.json`);
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: observations(run, 12, { 6: { status: 'bogus' } }).map((resource) => ({
        resource,
        request: { method: 'POST', url: 'Observation' },
      })),
    };
    await writeFile(file, JSON.stringify(bundle));
    const summary = await importFiles(t.node, [file], { validationWorkers: workers });
    expect(summary.failed).toBe(12);
    expect(summary.created).toBe(0);
    expect(summary.failures[0]?.reason).toMatch(/Observation\.status/);
    expect(await stored(run)).toBe(0);
  });
});
