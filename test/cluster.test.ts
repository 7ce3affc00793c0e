/**
 * `medledger start --workers 2` on the PostgreSQL server: two node processes serve one database
 * under concurrent writes, reads and consent changes; the elected one (indexer and outbox) is
 * SIGKILLed mid-way. The survivor takes over the outbox (the revocation after the kill is sent)
 * and the indexer (both processes then refuse the revoked grantee), nothing acknowledged is
 * missing, anchoring is contiguous and `medledger verify` passes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Address } from 'viem';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessTokens } from '../src/access/AccessTokens.ts';
import { bearer } from '../src/access/testing/mintAccessToken.ts';
import { consentDomain, consentTypes } from '../src/chain/consent/consentTypedData.ts';
import { relayConsent } from '../src/chain/consent/relayConsent.ts';
import { encodePurposes, encodeResourceTypes } from '../src/chain/consentCodes.ts';
import { readContractAddresses } from '../src/chain/contractAddresses.ts';
import { waitForOutboxEntry } from '../src/chain/outbox/outboxEntry.ts';
import { migrations } from '../src/node/migrations.ts';
import type { Db } from '../src/store/db.ts';
import { openDatabase } from '../src/store/openDatabase.ts';
import { createServerDatabase } from '../src/store/testing/databases.ts';
import {
  expectAcknowledgedReadable,
  expectConsistentAfterCrashes,
  PUBLIC_URL,
  startFaultNode,
  startWriteStream,
  systemBearer,
  waitFor,
  waitForAnchoringDrained,
} from './faults/support/faults.ts';
import { killEmbeddedAnvil, type NodeProcess } from './support/nodeProcess.ts';

const now = () => Math.floor(Date.now() / 1000);

/** The pid the node's log names as elected (the last election it reports). */
function leaderPid(output: string): number | undefined {
  const lines = output.split('\n');
  const pids = lines.flatMap((line) => {
    const started = /\(pid (\d+)\): database: .*; leader$/.exec(line);
    const elected = /elected leader of this database \(pid (\d+)\)/.exec(line);
    return started ? [Number(started[1])] : elected ? [Number(elected[1])] : [];
  });
  return pids.at(-1);
}

describe('two node processes on one PostgreSQL database', () => {
  let dataDir = '';
  let database: { url: string; drop(): Promise<void> } | undefined;
  let db: Db | undefined;
  let node: NodeProcess | undefined;
  afterAll(async () => {
    if (node?.child.exitCode === null) node.child.kill('SIGKILL');
    await db?.close();
    await killEmbeddedAnvil(dataDir);
    await rm(dataDir, { recursive: true, force: true });
    await database?.drop();
  });

  it('elect one indexer and outbox, survive the leader SIGKILLed, lose nothing, and verify', async () => {
    database = await createServerDatabase('medledger_cluster');
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-cluster-'));
    const env = { DATABASE_URL: database.url };
    node = await startFaultNode(dataDir, { ...env, MEDLEDGER_WORKERS: '2' });
    const running = node;
    // Both workers up, one of them elected.
    // As generous as startFaultNode's readiness (a loaded 2-core machine starts two workers slowly);
    // on a timeout the node's log says where the second one was.
    await waitFor(
      'both workers to listen',
      async () => (running.output().match(/medledger listening/g) ?? []).length >= 2,
      240_000,
    ).catch((error: unknown) => {
      throw new Error(`${(error as Error).message}; the node's log:\n${running.output().slice(-6000)}`);
    });
    const firstLeader = leaderPid(running.output());
    expect(firstLeader).toBeDefined();
    expect(running.output()).toMatch(/; follower$/m);

    db = await openDatabase({ migrations, databaseUrl: database.url });
    const admin = await systemBearer(dataDir);
    const tokens = await AccessTokens.load(dataDir, PUBLIC_URL);
    const addresses = (await readContractAddresses(dataDir))!;
    const custodian = (await db.query<{ address: string }>('SELECT address FROM chain_members'))[0]!.address;

    // A patient with a chain identity, an Observation, and another member's system as grantee.
    const patient = privateKeyToAccount(generatePrivateKey());
    const grantee = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Address;
    const post = async (resource: Record<string, unknown>) => {
      const response = await fetch(`${running.url}/fhir/${resource.resourceType}`, {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(resource),
      });
      expect(response.status).toBe(201);
      return ((await response.json()) as { id: string }).id;
    };
    const patientId = await post({
      resourceType: 'Patient',
      name: [{ family: 'Cluster' }],
      identifier: [{ system: 'urn:medledger:address', value: patient.address.toLowerCase() }],
    });
    const observationId = await post({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8480-6' }] },
      subject: { reference: `Patient/${patientId}` },
    });
    const member = await bearer(tokens, {
      kind: 'system',
      scope: 'system/*.rs',
      address: grantee,
      internal: false,
      lifetimeSeconds: 3600,
    });
    // Each read on a new connection: the primary hands connections to the workers in turn.
    const reads = async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const response = await fetch(`${running.url}/fhir/Observation/${observationId}`, {
          headers: { authorization: member, connection: 'close' },
        });
        await response.body?.cancel();
        statuses.push(response.status);
      }
      return statuses;
    };
    const relay = async (kind: 'grant' | 'revoke', nonce: number) => {
      const domain = consentDomain(addresses.chainId, addresses.consent);
      const base = {
        patient: patient.address,
        grantee,
        custodian: custodian as Address,
        nonce,
        deadline: BigInt(now() + 600),
      };
      const signed = await (async (patientKey: PrivateKeyAccount) => {
        if (kind === 'grant') {
          const message = {
            ...base,
            resourceTypes: encodeResourceTypes(['Observation']),
            purposes: encodePurposes(['TREAT']),
            notBefore: now() - 60,
            expiry: now() + 3600,
          };
          const signature = await patientKey.signTypedData({
            domain,
            types: consentTypes,
            primaryType: 'Grant',
            message,
          });
          return { kind, message, signature } as const;
        }
        const signature = await patientKey.signTypedData({
          domain,
          types: consentTypes,
          primaryType: 'Revoke',
          message: base,
        });
        return { kind, message: base, signature } as const;
      })(patient);
      const id = await db!.transaction((tx) => relayConsent(tx, signed));
      const state = await waitForOutboxEntry(db!, id!, 120_000);
      expect(state.status).toBe('confirmed');
    };

    // Without consent the record is not there for the grantee (404, as for any unknown id).
    expect(await reads()).toEqual([404, 404, 404, 404, 404, 404]);
    // Two clients updating one resource at the same moment through two processes (and a pool of
    // connections): the later is refused with 409 and an OperationOutcome, never acknowledged and lost.
    const writes = startWriteStream(() => running.url, admin, 'cluster', {
      concurrency: 4,
      okStatuses: [409],
    });
    try {
      await relay('grant', 0);
      // Both processes (the leader from its indexer, the follower from the indexed tables) allow it.
      await waitFor('every worker to allow the grantee', async () => (await reads()).every((s) => s === 200));
      await waitFor('some writes to be acknowledged', async () => writes.acknowledged.length >= 10);

      process.kill(firstLeader!, 'SIGKILL');
      await waitFor('another worker to be elected', async () => {
        const pid = leaderPid(running.output());
        return pid !== undefined && pid !== firstLeader;
      });
      await waitFor('more writes after the kill', async () => writes.acknowledged.length >= 30);
      // The revocation is sent by the new leader's outbox, and indexed by its indexer.
      await relay('revoke', 1);
      await waitFor('every worker to refuse the revoked grantee', async () =>
        (await reads()).every((s) => s === 404),
      );
    } finally {
      await writes.stop();
    }
    expect(writes.unexpected).toEqual([]);
    await expectAcknowledgedReadable(running.url, admin, writes.acknowledged);
    await waitForAnchoringDrained(running.url).catch(async (error: unknown) => {
      const open = await db!.query(
        "SELECT id::text AS id, function_name, status, nonce::text AS nonce, last_error FROM chain_outbox WHERE status <> 'confirmed'",
      );
      throw new Error(
        `${(error as Error).message}; open chain writes ${JSON.stringify(open.slice(0, 20))}; the node's log:\n${running.output().slice(-6000)}`,
      );
    });
    expect(await running.stop('SIGTERM')).toBe(0);
    await expectConsistentAfterCrashes(dataDir, env);
  }, 600_000);
});
