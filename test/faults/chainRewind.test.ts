/**
 * The chain forgets blocks under a running node: an `evm_revert` drops the blocks that held an
 * anchor, a grant and a revocation; anvil is SIGKILLed after a confirmation and comes back from
 * its (older) saved state; anvil is stopped (SIGSTOP) and continued. After each the node recovers
 * by itself: the indexer rewinds, the writes go back in flight and are re-posted in sequence,
 * consent state equals the chain's, what `medledger verify` checks holds, and nothing is anchored
 * twice (every sequence once on chain, `medledger verify` at the end).
 * Throughout, a reader polls with the revoked grantee's token: once the revocation was accepted,
 * no read is ever allowed, and the audit events say so: every read allowed to that grantee was
 * recorded before, on a grant the indexed blocks held (its consent block at or above the grant's).
 *
 * While anvil is stopped, `/healthz` and a consent decision must answer (503) in bounded time
 * rather than wait on the chain; the node is built to answer within 1 s and 2 s, the test allows
 * 10 s for a loaded machine and prints what it measured.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestClient, type Hex, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditContextOf } from '../../src/audit/AuditContext.ts';
import { searchAuditEvents } from '../../src/audit/searchAuditEvents.ts';
import { purposeIndex, resourceTypeIndex } from '../../src/chain/consentCodes.ts';
import { consentAbi } from '../../src/chain/generated/contracts.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';
import { verifyNode } from '../../src/verify/verifyNode.ts';
import { postConsentChange } from './support/consent.ts';
import { expectConsistentAfterCrashes, waitFor, waitForAnchoringDrained } from './support/faults.ts';

describe('the chain rewound, crashed and stopped under a running node', () => {
  let dataDir = '';
  let t: TestNode;
  let admin = '';
  let asPatient = '';
  let patientId = '';
  let observationId = '';
  const patientKey = privateKeyToAccount(generatePrivateKey());
  const revokedMember = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Hex;
  const laterMember = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Hex;
  const tokens: Record<string, string> = {};
  let revokedAt = 0;
  const violations: string[] = [];
  let watching = true;
  let watcher: Promise<void> | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-rewind-'));
    // The node saves the chain only right after deployment here: a crash of anvil loses everything after.
    t = await startTestNode({ dataDir, env: { MEDLEDGER_CHAIN_SAVE_INTERVAL_MS: '3600000' } });
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    patientId = await t.create(
      {
        resourceType: 'Patient',
        identifier: [{ system: 'urn:medledger:address', value: patientKey.address.toLowerCase() }],
      },
      admin,
    );
    observationId = await t.create(observation(patientId), admin);
    asPatient = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.cruds',
      patient: patientId,
      address: patientKey.address.toLowerCase(),
      lifetimeSeconds: 3600,
    });
    for (const member of [revokedMember, laterMember])
      tokens[member] = await t.bearer({
        kind: 'system',
        scope: 'system/*.rs',
        address: member,
        internal: false,
        lifetimeSeconds: 3600,
      });
  }, 120_000);

  afterAll(async () => {
    watching = false;
    await watcher;
    await t?.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });

  const read = (member: string) =>
    fetch(`${t.fhirUrl}/Observation/${observationId}`, { headers: { authorization: tokens[member]! } });
  const change = (action: 'grant' | 'revoke', grantee: string) =>
    postConsentChange({
      fhirUrl: t.fhirUrl,
      patientId,
      signer: patientKey,
      grantee,
      asPatient,
      action,
      wait: true,
    });
  const testClient = () => createTestClient({ transport: http(t.node.chain.rpcUrl), mode: 'anvil' });
  const health = async () =>
    (await (await fetch(`${t.fhirUrl.replace(/\/fhir$/, '')}/healthz`)).json()) as {
      ready: boolean;
      indexer: { rewinds: number };
      pendingChainWrites: number;
    };

  /** Recovered: the indexer rewound (`rewinds` above `before`), nothing open, ready; consent as on chain. */
  async function expectRecovered(before: number) {
    await waitFor(
      'the indexer to notice the rewind',
      async () => (await health()).indexer.rewinds > before,
      60_000,
    );
    await waitFor('the node to be ready with every write re-posted', async () => {
      const h = await health();
      return h.ready && h.pendingChainWrites === 0;
    });
    const failed = await t.node.db.query("SELECT id, last_error FROM chain_outbox WHERE status = 'failed'");
    expect(failed).toEqual([]);
    for (const member of [revokedMember, laterMember]) {
      const onChain = await t.node.chain.publicClient.readContract({
        address: t.node.chain.addresses.consent,
        abi: consentAbi,
        functionName: 'isAllowed',
        args: [
          patientKey.address,
          member as Hex,
          t.node.identity.account.address,
          resourceTypeIndex('Patient')!,
          purposeIndex('TREAT')!,
        ],
      });
      const cached = t.node.indexer.consent.decide({
        patient: patientKey.address,
        grantee: member,
        custodian: t.node.identity.account.address,
        resourceType: 'Patient',
        purpose: 'TREAT',
      });
      expect(cached.allowed, `consent of ${member} as on chain`).toBe(onChain);
    }
    // What `medledger verify` runs, on the running node: every anchored root as the chain has it.
    const report = await verifyNode(t.node);
    expect(report.findings).toEqual([]);
    expect(report.ok).toBe(true);
  }

  it('recovers by itself from a revert, a SIGKILL and a SIGSTOP of anvil', async () => {
    // A reader with the soon-revoked grantee's token, for the whole test.
    watcher = (async () => {
      while (watching) {
        const startedAt = Date.now();
        const r = await read(revokedMember).catch(() => undefined);
        if (r?.status === 200 && revokedAt > 0 && startedAt > revokedAt)
          violations.push(`allowed at ${new Date(startedAt).toISOString()} after the revocation`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();

    // 1. Blocks holding a grant, an anchor and a revocation are dropped by evm_revert.
    const snapshot = await testClient().snapshot();
    expect((await change('grant', revokedMember)).status).toBe(200);
    expect((await read(revokedMember)).status).toBe(200);
    await t.create(observation(patientId), admin); // a new anchor batch
    await waitFor('anchoring', async () => (await health()).pendingChainWrites === 0);
    expect((await change('revoke', revokedMember)).status).toBe(200);
    revokedAt = Date.now();
    expect((await read(revokedMember)).status).not.toBe(200);
    await testClient().revert({ id: snapshot });
    await expectRecovered(0);
    expect((await read(revokedMember)).status).not.toBe(200);

    // 2. anvil SIGKILLed after a confirmation; the node restarts it from its saved state (deployment).
    expect((await change('grant', laterMember)).status).toBe(200);
    expect((await read(laterMember)).status).toBe(200);
    const rewinds = (await health()).indexer.rewinds;
    process.kill(t.node.chain.anvil!.pid, 'SIGKILL');
    await expectRecovered(rewinds);
    expect((await read(laterMember)).status).toBe(200);
    expect((await read(revokedMember)).status).not.toBe(200);

    // 3. anvil stopped: /healthz and consent decisions answer fast and fail closed; then continued.
    const pid = t.node.chain.anvil!.pid;
    process.kill(pid, 'SIGSTOP');
    try {
      await new Promise((resolve) => setTimeout(resolve, 2500));
      let started = Date.now();
      const healthz = await fetch(`${t.fhirUrl.replace(/\/fhir$/, '')}/healthz`);
      const healthMs = Date.now() - started;
      expect(healthz.status).toBe(503);
      started = Date.now();
      const denied = await read(laterMember);
      const decisionMs = Date.now() - started;
      expect(denied.status).toBe(503);
      console.log(
        `anvil stopped: /healthz answered in ${healthMs} ms, a consent decision in ${decisionMs} ms`,
      );
      expect(healthMs).toBeLessThan(10_000);
      expect(decisionMs).toBeLessThan(10_000);
      const typed = await fetch(
        `${t.fhirUrl}/Patient/${patientId}/$consent-typed-data?grantee=${laterMember}&resourceType=Observation&purpose=TREAT`,
        { headers: { authorization: asPatient } },
      );
      expect(typed.status).toBe(503);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor('the node to be ready again', async () => (await health()).ready);
    expect((await read(laterMember)).status).toBe(200);
    expect((await verifyNode(t.node)).ok).toBe(true);

    watching = false;
    await watcher;
    expect(violations).toEqual([]);

    // The audit events of the revoked grantee: allowed only before the revocation, on a held grant.
    const { resources: events } = await searchAuditEvents(auditContextOf(t.node), {
      agent: revokedMember,
      _count: 1000,
    });
    const allowed = events.filter((e) => (e as { outcome: string }).outcome === '0');
    const refused = events.filter((e) => (e as { outcome: string }).outcome !== '0');
    expect(allowed.length).toBeGreaterThan(0);
    expect(refused.length).toBeGreaterThan(0);
    for (const event of allowed) {
      const { recorded, extension } = event as unknown as {
        recorded: string;
        extension?: Array<{
          url: string;
          extension?: Array<{ url: string; valueCode?: string; valueString?: string }>;
        }>;
      };
      expect(Date.parse(recorded)).toBeLessThan(revokedAt);
      const decision = extension?.find((x) => x.url.endsWith('/consent-decision'))?.extension ?? [];
      const part = (url: string) => decision.find((p) => p.url === url);
      expect(part('basis')?.valueCode).toBe('grant');
      expect(BigInt(part('block')?.valueString ?? '-1')).toBeGreaterThanOrEqual(
        BigInt(part('sourceBlock')?.valueString ?? '0'),
      );
    }

    await waitForAnchoringDrained(t.fhirUrl.replace(/\/fhir$/, ''));
    await t.stop();
    await expectConsistentAfterCrashes(dataDir);
  }, 600_000);
});

function observation(patientId: string) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
  };
}
