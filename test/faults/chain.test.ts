/**
 * The chain node fails under a running medledger: the network to it is cut (a TCP proxy the
 * test owns sits between them) and anvil itself is stopped and restarted from its state file.
 * Meanwhile writes are accepted and stay pending; consent decisions fail closed (503 with an
 * OperationOutcome saying why, and an audit event) and /healthz says so; once the chain is
 * back, anchoring resumes, consent decisions are made again and `medledger verify` passes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type Hex, parseEther } from 'viem';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import { afterAll, describe, expect, it } from 'vitest';
import { AccessTokens } from '../../src/access/AccessTokens.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
import { loadNodeIdentity } from '../../src/chain/nodeIdentity.ts';
import {
  type AnvilInstance,
  createAnvilClients,
  freePort,
  startAnvil,
} from '../../src/chain/testing/anvil.ts';
import type { NodeProcess } from '../support/nodeProcess.ts';
import { postConsentChange } from './support/consent.ts';
import {
  type Acknowledged,
  expectAcknowledgedReadable,
  expectConsistentAfterCrashes,
  faultIterations,
  PUBLIC_URL,
  startFaultNode,
  startWriteStream,
  systemBearer,
  waitFor,
  waitForAnchoringDrained,
} from './support/faults.ts';
import { startTcpProxy, type TcpProxy } from './support/tcpProxy.ts';

const run = promisify(execFile);

interface Health {
  ready: boolean;
  chain: string;
  consent: { current: boolean; reason?: string };
  pendingChainWrites: number;
}

describe('the chain node killed, restarted and unreachable', () => {
  let dataDir = '';
  let anvil: AnvilInstance | undefined;
  let proxy: TcpProxy | undefined;
  let node: NodeProcess | undefined;
  afterAll(async () => {
    await node?.stop('SIGKILL');
    await proxy?.close();
    await anvil?.stop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('accepts writes as pending, denies consent decisions with a reason, and resumes', async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-fault-chain-'));
    const anvilPort = await freePort();
    const anvilArgs = ['--state', join(dataDir, 'anvil-state.json')];
    anvil = await startAnvil({ port: anvilPort, args: anvilArgs });
    proxy = await startTcpProxy(anvilPort);
    const env = { MEDLEDGER_RPC_URL: proxy.url };

    const identity = await loadNodeIdentity(dataDir);
    await createAnvilClients(anvil.rpcUrl).testClient.setBalance({
      address: identity.account.address,
      value: parseEther('100'),
    });
    await run('node', ['bin/medledger.js', 'chain', 'deploy', '--data-dir', dataDir, '--rpc-url', proxy.url]);
    node = await startFaultNode(dataDir, env);
    const url = () => (node as NodeProcess).url;
    const admin = await systemBearer(dataDir);
    const tokens = await AccessTokens.load(dataDir, PUBLIC_URL);

    // A patient with a chain identity, one Observation, and a consent for another member.
    const patientKey = privateKeyToAccount(generatePrivateKey());
    const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Hex;
    const create = async (body: Record<string, unknown>) => {
      const r = await fetch(`${url()}/fhir/${body.resourceType}`, {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { id: string }).id;
    };
    const patient = await create({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:medledger:address', value: patientKey.address.toLowerCase() }],
    });
    const observationId = await create({
      resourceType: 'Observation',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
      subject: { reference: `Patient/${patient}` },
    });
    const asPatient = await bearer(tokens, {
      kind: 'patient',
      scope: 'patient/*.cruds',
      patient,
      address: patientKey.address.toLowerCase(),
      lifetimeSeconds: 3600,
    });
    const asMember = await bearer(tokens, {
      kind: 'system',
      scope: 'system/*.rs',
      address: member,
      internal: false,
      lifetimeSeconds: 3600,
    });
    await grantConsent(url(), patient, patientKey, member, asPatient);
    const memberRead = () =>
      fetch(`${url()}/fhir/Observation/${observationId}`, { headers: { authorization: asMember } });
    await waitFor('the consent to be active', async () => (await memberRead()).status === 200);

    const acknowledged: Acknowledged[] = [];
    const health = async () => (await (await fetch(`${url()}/healthz`)).json()) as Health;
    for (let round = 0; round < faultIterations(1); round++) {
      // Partition: the node cannot reach its chain.
      await proxy.cut();
      const writes = startWriteStream(url, admin, `chain-r${round}`, { concurrency: 2 });
      let denied: Response | undefined;
      await waitFor(
        'consent decisions to fail closed',
        async () => {
          const r = await memberRead();
          if (r.status === 200) return false;
          denied = r;
          return true;
        },
        60_000,
      );
      expect(denied?.status).toBe(503);
      const outcome = (await denied?.json()) as {
        resourceType: string;
        issue: Array<{ code: string; details: { text: string } }>;
      };
      expect(outcome.resourceType).toBe('OperationOutcome');
      expect(outcome.issue[0]?.code).toBe('transient');
      expect(outcome.issue[0]?.details.text).toMatch(/consent state not current/);
      const partitioned = await health();
      expect(partitioned).toMatchObject({ ready: false, chain: 'unavailable', consent: { current: false } });
      expect(partitioned.consent.reason).toMatch(/consent decisions are denied/);
      // The patient still reads their own record (no consent decision involved).
      const own = await fetch(`${url()}/fhir/Observation/${observationId}`, {
        headers: { authorization: asPatient },
      });
      expect(own.status).toBe(200);

      // The chain node itself goes down (it writes its state file as it stops) and comes back.
      await anvil.stop();
      await new Promise((r) => setTimeout(r, 1000));
      await waitFor('writes to be acknowledged while the chain is away', async () => {
        return writes.acknowledged.length >= 5;
      });
      expect((await health()).pendingChainWrites).toBeGreaterThan(0);
      anvil = await startAnvil({ port: anvilPort, args: anvilArgs });
      await proxy.restore();
      await writes.stop();
      expect(writes.unexpected).toEqual([]);
      acknowledged.push(...writes.acknowledged);

      // Back: anchoring resumes, consent decisions are made again, the node was never restarted.
      await waitForAnchoringDrained(url());
      await waitFor('the node to be ready', async () => (await health()).ready);
      expect((await health()).consent).toEqual({ current: true });
      expect((await memberRead()).status).toBe(200);
    }
    await expectAcknowledgedReadable(url(), admin, acknowledged);

    // Every denied decision left an audit event (outcome 8: serious failure, the 503).
    const audit = await fetch(`${url()}/fhir/AuditEvent?patient=Patient/${patient}&outcome=8`, {
      headers: { authorization: admin },
    });
    expect(audit.status).toBe(200);
    const events = (await audit.json()) as {
      entry?: Array<{ resource: { outcomeDesc?: string } }>;
    };
    expect(events.entry?.length ?? 0).toBeGreaterThan(0);
    expect(events.entry?.[0]?.resource.outcomeDesc).toMatch(/consent state not current/);

    await waitForAnchoringDrained(url());
    expect(await node.stop('SIGTERM')).toBe(0);
    node = undefined;
    await expectConsistentAfterCrashes(dataDir, env);
  }, 600_000);
});

/** The patient asks for the typed data, signs it with their wallet, and posts it to $grant. */
async function grantConsent(
  url: string,
  patient: string,
  signer: PrivateKeyAccount,
  grantee: string,
  asPatient: string,
): Promise<void> {
  const granted = await postConsentChange({
    fhirUrl: `${url}/fhir`,
    patientId: patient,
    signer,
    grantee,
    asPatient,
    action: 'grant',
  });
  expect(granted.status).toBe(202);
}
