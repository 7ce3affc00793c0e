/**
 * Shared pieces of the fault tests (test/faults): how many times to repeat each fault, a real
 * `medledger` node process with a stable token issuer, tokens minted with the node's own key,
 * a stream of FHIR writes that records exactly what was acknowledged, and the checks that
 * must hold after any crash (every acknowledged write readable with its content, anchors
 * contiguous and each leaf anchored once, `medledger verify` passing).
 *
 * `npx vitest run` runs each fault once or twice; `npm run test:faults` sets
 * MEDLEDGER_FAULT_ITERATIONS (default there: 10) to repeat them many times.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'vitest';
import { AccessTokens } from '../../../src/access/AccessTokens.ts';
import { bearer } from '../../../src/access/testing/mintAccessToken.ts';
import { anchorsAbi } from '../../../src/chain/generated/contracts.ts';
import { loadConfig } from '../../../src/config/config.ts';
import { stderrLogger } from '../../../src/config/logger.ts';
import { startNode } from '../../../src/node/startNode.ts';
import { seedDataDir } from '../../../src/store/testing/embeddedTemplate.ts';
import { type NodeProcess, startNodeProcess } from '../../support/nodeProcess.ts';

const exec = promisify(execFile);

/** Repetitions of each fault: 1 in the default suite, more under `npm run test:faults`. */
export function faultIterations(fallback = 1): number {
  const n = Number(process.env.MEDLEDGER_FAULT_ITERATIONS ?? fallback);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

/** The issuer the node and the test agree on, whatever port the node gets after a restart. */
export const PUBLIC_URL = 'http://medledger-faults.invalid';

export const FAST_BATCHES = { MEDLEDGER_BATCH_MAX_DELAY_MS: '150', MEDLEDGER_PUBLIC_URL: PUBLIC_URL };

export async function startFaultNode(
  dataDir: string,
  env: Record<string, string> = {},
): Promise<NodeProcess> {
  // A new embedded database starts from the run's migrated template (not what these tests are about).
  if (!env.DATABASE_URL) await seedDataDir(dataDir);
  // Generous: on a loaded 2-core machine a node replaying a crashed predecessor's state is slow to start.
  return startNodeProcess(dataDir, { ...FAST_BATCHES, ...env }, 240_000);
}

/** A system token (all scopes) signed with the node's token key, as its token endpoint would. */
export async function systemBearer(dataDir: string, scope = 'system/*.cruds'): Promise<string> {
  const tokens = await AccessTokens.load(dataDir, PUBLIC_URL);
  return bearer(tokens, { kind: 'system', scope, lifetimeSeconds: 3600 });
}

/** Runs the real `medledger` command; resolves with its exit code and output either way. */
export async function medledger(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('node', ['bin/medledger.js', ...args], {
      timeout: 300_000,
      maxBuffer: 64 * 1024 * 1024,
      env: { ...process.env, ...FAST_BATCHES, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

export interface Acknowledged {
  id: string;
  versionId: string;
  /** The marker written into the resource, read back to compare content. */
  marker: string;
  value: number;
}

/** The Observation a writer sends; `marker` makes each write distinguishable. */
export function observation(marker: string, value: number, id?: string) {
  return {
    resourceType: 'Observation',
    ...(id === undefined ? {} : { id }),
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }], text: marker },
    valueQuantity: { value, unit: 'mmHg' },
  };
}

export interface WriteStream {
  /** Writes acknowledged with 2xx, in the order the acknowledgements arrived. */
  acknowledged: Acknowledged[];
  /** Responses that were neither 2xx, nor an expected status with an OperationOutcome, nor a dropped connection. */
  unexpected: string[];
  /** Statuses of the expected refusals (each answered with an OperationOutcome). */
  refused: number[];
  stop(): Promise<void>;
}

/**
 * `concurrency` clients creating Observations (and now and then updating one they created)
 * until stopped; a request whose connection drops (the node was killed) is not acknowledged.
 * `okStatuses` lists non-2xx statuses the caller expects during its fault (e.g. 503).
 */
export function startWriteStream(
  url: () => string,
  authorization: string,
  prefix: string,
  options: { concurrency?: number; okStatuses?: number[] } = {},
): WriteStream {
  const acknowledged: Acknowledged[] = [];
  const unexpected: string[] = [];
  const refused: number[] = [];
  let running = true;
  let counter = 0;
  const client = async (c: number) => {
    while (running) {
      const n = counter++;
      const mine = acknowledged.filter((a) => a.marker.startsWith(`${prefix}-`));
      const update = n % 5 === 4 && mine.length > 0 ? mine[(n * 7) % mine.length] : undefined;
      const marker = `${prefix}-${c}-${n}`;
      const body = observation(marker, n, update?.id);
      try {
        const response = await fetch(
          update ? `${url()}/fhir/Observation/${update.id}` : `${url()}/fhir/Observation`,
          {
            method: update ? 'PUT' : 'POST',
            headers: { authorization, 'content-type': 'application/fhir+json' },
            body: JSON.stringify(body),
            signal: AbortSignal.timeout(30_000),
          },
        );
        const text = await response.text();
        if (response.status >= 200 && response.status < 300) {
          const stored = JSON.parse(text) as { id: string; meta: { versionId: string } };
          acknowledged.push({ id: stored.id, versionId: stored.meta.versionId, marker, value: n });
        } else if (!options.okStatuses?.includes(response.status) || !isOperationOutcome(text)) {
          unexpected.push(`${response.status}: ${text.slice(0, 300)}`);
        } else {
          refused.push(response.status);
          await new Promise((r) => setTimeout(r, 50));
        }
      } catch {
        // Connection refused or dropped: nothing was acknowledged. Wait for the node to return.
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const clients = Array.from({ length: options.concurrency ?? 4 }, (_, c) => client(c));
  return {
    acknowledged,
    unexpected,
    refused,
    async stop() {
      running = false;
      await Promise.all(clients);
    },
  };
}

function isOperationOutcome(text: string): boolean {
  try {
    return (JSON.parse(text) as { resourceType?: string }).resourceType === 'OperationOutcome';
  } catch {
    return false;
  }
}

/** Polls until `check` resolves true, or fails after `timeoutMs` with `what`. */
export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Every acknowledged write reads back, at its version, with the content that was written. */
export async function expectAcknowledgedReadable(
  url: string,
  authorization: string,
  acknowledged: Acknowledged[],
): Promise<void> {
  for (const ack of acknowledged) {
    const response = await fetch(`${url}/fhir/Observation/${ack.id}/_history/${ack.versionId}`, {
      headers: { authorization },
    });
    expect(response.status, `Observation/${ack.id}/_history/${ack.versionId}`).toBe(200);
    const read = (await response.json()) as ReturnType<typeof observation>;
    expect(read.code.text).toBe(ack.marker);
    expect(read.valueQuantity.value).toBe(ack.value);
  }
}

/** Waits until every record version and audit event is batched and every chain write confirmed. */
export async function waitForAnchoringDrained(url: string): Promise<void> {
  const drained = async () => {
    const health = (await (await fetch(`${url}/healthz`)).json()) as { pendingChainWrites: number };
    return health.pendingChainWrites === 0;
  };
  // Twice: the last audit events are cut into a batch only after the batch delay (150 ms).
  await waitFor('anchoring to drain', drained);
  await new Promise((r) => setTimeout(r, 1000));
  await waitFor('anchoring to drain', drained);
}

/**
 * With no node running: on the database and the chain every anchor sequence is contiguous,
 * posted once, and every leaf is in exactly one batch; and `medledger verify` passes.
 */
export async function expectConsistentAfterCrashes(dataDir: string, env: Record<string, string> = {}) {
  const node = await startNode({
    config: loadConfig({ 'data-dir': dataDir }, { ...FAST_BATCHES, ...env }),
    logger: stderrLogger({ quiet: true }),
    workers: false,
    adoptRunningAnvil: true,
  });
  try {
    const notConfirmed = await node.db.query(
      `SELECT id, dedupe_key, status, last_error FROM chain_outbox WHERE status <> 'confirmed'`,
    );
    expect(notConfirmed).toEqual([]);
    for (const [kind, table] of [
      [0, 'record_versions'],
      [1, 'audit_events'],
    ] as const) {
      const batches = await node.db.query<{ sequence: string; leaf_count: number; root: Uint8Array }>(
        'SELECT sequence::text AS sequence, leaf_count, root FROM anchor_batches WHERE kind = $1 ORDER BY anchor_batches.sequence',
        [kind],
      );
      expect(batches.map((b) => Number(b.sequence))).toEqual(batches.map((_, i) => i));
      const [counts] = await node.db.query<{ batched: number; unbatched: number; distinct_leaves: number }>(
        `SELECT count(*) FILTER (WHERE p.seq IS NOT NULL)::int AS batched,
                count(*) FILTER (WHERE p.seq IS NULL)::int AS unbatched,
                count(DISTINCT t.leaf)::int AS distinct_leaves
         FROM ${table} t LEFT JOIN anchor_proofs p ON p.kind = ${kind} AND p.seq = t.seq`,
      );
      expect(counts?.unbatched, `${table} left unbatched`).toBe(0);
      expect(counts?.distinct_leaves, `${table}: a leaf appears twice`).toBe(counts?.batched);
      expect(batches.reduce((sum, b) => sum + b.leaf_count, 0)).toBe(counts?.batched);
      // On chain: exactly these roots, in this order (the contract refuses a sequence twice).
      const member = node.identity.account.address;
      const next = await node.chain.publicClient.readContract({
        address: node.chain.addresses.anchors,
        abi: anchorsAbi,
        functionName: 'nextSequence',
        args: [member, kind],
      });
      expect(Number(next)).toBe(batches.length);
      for (const [sequence, batch] of batches.entries()) {
        const root = await node.chain.publicClient.readContract({
          address: node.chain.addresses.anchors,
          abi: anchorsAbi,
          functionName: 'rootOf',
          args: [member, kind, BigInt(sequence)],
        });
        expect(root).toBe(`0x${Buffer.from(batch.root).toString('hex')}`);
      }
      // And as the indexer saw the events: one RootAnchored per batch, none repeated.
      const events = await node.db.query<{ sequence: string }>(
        `SELECT args->>'sequence' AS sequence FROM chain_events
         WHERE event_name = 'RootAnchored' AND lower(args->>'member') = lower($1) AND (args->>'kind')::int = $2
         ORDER BY block_number, log_index`,
        [member, kind],
      );
      expect(events.map((e) => Number(e.sequence))).toEqual(batches.map((_, i) => i));
    }
  } finally {
    await node.stop();
  }
  // Last, because verify appends its own (operator) audit event.
  const verified = await medledger(['verify', '--data-dir', dataDir, '--json'], env);
  expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true });
}

/** A random delay in [min, max) ms. */
export const randomBetween = (min: number, max: number) => min + Math.floor(Math.random() * (max - min));
