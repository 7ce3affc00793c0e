/**
 * Issue #18: the roots a custodian checks its own reads against come from the chain. An insider
 * with the stopped node's database and its key-encryption key rewrites an anchored record, its
 * proofs, its batch root and every copy of the anchored root the node keeps in the database
 * (test/exchange/forgeCustodianRecord.ts). After a restart the node's read of that record fails
 * with ERR_INTEGRITY (a 500 OperationOutcome) and raises an integrity alert; the forged content is
 * not served. Run on PGlite and on the PostgreSQL server.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OperationOutcome, Patient } from '@medplum/fhirtypes';
import { bytesToHex } from 'viem';
import { afterAll, describe, expect, it } from 'vitest';
import { anchorsAbi } from '../src/chain/generated/contracts.ts';
import { startTestNode, type TestNode } from '../src/fhir/testing/startTestNode.ts';
import { createServerDatabase } from '../src/store/testing/databases.ts';
import { forgeCustodianRecord } from './exchange/forgeCustodianRecord.ts';

const TEST_MS = 180_000;

interface Store {
  name: string;
  /** A fresh database for the node: its URL (server) or undefined (PGlite in the data dir). */
  create(): Promise<string | undefined>;
  drop(): Promise<void>;
}

const stores: Store[] = [
  { name: 'PGlite', create: async () => undefined, drop: async () => {} },
  (() => {
    let drop = async () => {};
    return {
      name: 'the PostgreSQL server',
      async create() {
        const database = await createServerDatabase('medledger_roots');
        drop = database.drop;
        return database.url;
      },
      drop: () => drop(),
    };
  })(),
];

describe.each(stores)('roots on read, on $name', (store) => {
  let dataDir = '';
  let node: TestNode | undefined;

  afterAll(async () => {
    await node?.stop();
    await store.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it(
    'a record forged with every root the database holds fails its read after a restart',
    async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'medledger-roots-'));
      const databaseUrl = await store.create();
      const env = databaseUrl ? { DATABASE_URL: databaseUrl } : {};
      node = await startTestNode({ dataDir, env });
      const admin = await node.bearer({ kind: 'system', scope: 'system/*.cruds' });
      const id = await node.create({ resourceType: 'Patient', name: [{ family: 'Original' }] }, admin);
      await until('the record anchored on chain, and its root indexed', async () => {
        const read = await node!.node.vault.read('Patient', id);
        if (read.anchor.status !== 'anchored') return undefined;
        const indexed = await node!.node.db.query(
          `SELECT 1 FROM record_versions v JOIN anchor_proofs p ON p.kind = 0 AND p.seq = v.seq
             JOIN chain_anchored_roots r ON r.kind = 0 AND r.sequence = p.batch_sequence
           WHERE v.resource_type = 'Patient' AND v.resource_id = $1`,
          [id],
        );
        return indexed.length > 0 ? read : undefined;
      });
      const member = node.node.identity.account.address;
      await node.stop();
      node = undefined;

      await forgeCustodianRecord({ dataDir, databaseUrl }, member, { resourceType: 'Patient', id }, (r) => {
        r.name = [{ family: 'Forged' }];
      });

      node = await startTestNode({ dataDir, env });
      // The forgery is complete in the database: the local batch root, the indexer's copies and
      // the anchor call's arguments all agree, and differ from the root on chain.
      const db = node.node.db;
      const [batch] = await db.query<{ sequence: string; root: Uint8Array }>(
        'SELECT sequence::text AS sequence, root FROM anchor_batches WHERE kind = 0 ORDER BY sequence DESC LIMIT 1',
      );
      const forgedRoot = bytesToHex(batch!.root);
      const copies = await db.query<{ root: string }>(
        `SELECT root FROM chain_anchored_roots WHERE kind = 0 AND sequence = $1::bigint
         UNION ALL SELECT args->>'root' FROM chain_events
           WHERE event_name = 'RootAnchored' AND args->>'kind' = '0' AND args->>'sequence' = $2::text
         UNION ALL SELECT args->>3 FROM chain_outbox WHERE dedupe_key = 'anchor:records:' || $2::text`,
        [batch!.sequence, batch!.sequence],
      );
      expect(copies.map((c) => c.root.toLowerCase())).toEqual([forgedRoot, forgedRoot, forgedRoot]);
      const onChain = await node.node.chain.publicClient.readContract({
        address: node.node.chain.addresses.anchors,
        abi: anchorsAbi,
        functionName: 'rootOf',
        args: [member, 0, BigInt(batch!.sequence)],
      });
      expect(onChain.toLowerCase()).not.toBe(forgedRoot);

      const authorization = await node.bearer({ kind: 'system', scope: 'system/*.cruds' });
      const response = await fetch(`${node.fhirUrl}/Patient/${id}`, { headers: { authorization } });
      const body = (await response.json()) as OperationOutcome | Patient;
      expect(response.status).toBe(500);
      expect(body.resourceType).toBe('OperationOutcome');
      expect((body as OperationOutcome).issue?.[0]?.code).toBe('exception');
      expect(JSON.stringify(body)).not.toContain('Forged');
      const alerts = await db.query<{ resource_id: string; code: string; detail: string }>(
        "SELECT resource_id, code, detail FROM integrity_alerts WHERE subject = 'record'",
      );
      expect(alerts).toContainEqual({ resource_id: id, code: 'ERR_INTEGRITY', detail: 'anchored-root' });
    },
    TEST_MS,
  );
});

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
