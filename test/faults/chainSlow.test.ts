/**
 * A slow chain: anvil mines a block every 2 s (interval mining, what `anvil --block-time 2` does),
 * writes are final 2 blocks deep, and at most 16 writes are in flight. A consent change relayed
 * with `?wait=true` answers 202 with the Consent's link when the chain is slower than
 * `MEDLEDGER_CONSENT_WAIT_MS`, never 500, and the link shows it once final. A revocation relayed
 * while at least 50 anchors are queued is mined within 2 blocks of its relaying, ahead of anchors
 * queued before it, and holds in decisions from the moment it is accepted. At the end every write
 * is confirmed once and `medledger verify` passes.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestClient, type Hex, http } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';
import { postConsentChange } from './support/consent.ts';
import { expectConsistentAfterCrashes, waitFor, waitForAnchoringDrained } from './support/faults.ts';

const BLOCK_SECONDS = 2;

describe('a chain with 2 s blocks', () => {
  let dataDir = '';
  let t: TestNode;
  let admin = '';
  let asPatient = '';
  let patientId = '';
  let observationId = '';
  let memberToken = '';
  const patientKey = privateKeyToAccount(generatePrivateKey());
  const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as Hex;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-slow-chain-'));
    t = await startTestNode({
      dataDir,
      env: {
        MEDLEDGER_CONFIRMATIONS: '2',
        MEDLEDGER_CONSENT_WAIT_MS: '1000',
        MEDLEDGER_OUTBOX_MAX_IN_FLIGHT: '16',
        MEDLEDGER_BATCH_MAX_LEAVES: '1',
      },
    });
    const testClient = createTestClient({ transport: http(t.node.chain.rpcUrl), mode: 'anvil' });
    await testClient.setIntervalMining({ interval: BLOCK_SECONDS });
    expect(await testClient.getAutomine()).toBe(false);
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
    memberToken = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: member,
      internal: false,
      lifetimeSeconds: 3600,
    });
  }, 120_000);

  afterAll(async () => {
    await t?.stop().catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
  });

  const read = () =>
    fetch(`${t.fhirUrl}/Observation/${observationId}`, { headers: { authorization: memberToken } });
  const change = (action: 'grant' | 'revoke') =>
    postConsentChange({
      fhirUrl: t.fhirUrl,
      patientId,
      signer: patientKey,
      grantee: member,
      asPatient,
      action,
      wait: true,
    });
  /** `?wait=true` slower than the wait: 202, the Consent so far, and where to follow it. */
  async function expectAccepted(response: Response): Promise<string> {
    expect(response.status).toBe(202);
    const location = response.headers.get('location') ?? '';
    expect(location).toMatch(/\/fhir\/Consent\/[^/]+$/);
    expect(response.headers.get('retry-after')).toBe('2');
    expect(((await response.json()) as { resourceType: string }).resourceType).toBe('Consent');
    return location;
  }
  const statusAt = async (location: string) =>
    ((await (await fetch(location, { headers: { authorization: asPatient } })).json()) as { status: string })
      .status;
  const head = () => t.node.chain.publicClient.getBlockNumber({ cacheTime: 0 });

  it('answers 202 with a link when slower than the wait, and mines a revocation ahead of 50 anchors', async () => {
    // A grant: final two 2-s blocks deep, so slower than the 1 s wait: 202 and the link to follow.
    const granted = await expectAccepted(await change('grant'));
    await waitFor('the grant to be active', async () => (await statusAt(granted)) === 'active', 60_000);
    expect((await read()).status).toBe(200);

    // At least 50 anchors queued: 50 records in one batch Bundle, one record version per batch.
    const created = await fetch(t.fhirUrl, {
      method: 'POST',
      headers: { authorization: admin, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Bundle',
        type: 'batch',
        entry: Array.from({ length: 50 }, () => ({
          request: { method: 'POST', url: 'Observation' },
          resource: observation(patientId),
        })),
      }),
    });
    expect(created.status).toBe(200);
    const answers = (await created.json()) as { entry: Array<{ response: { status: string } }> };
    expect(answers.entry.map((e) => e.response.status.slice(0, 3))).toEqual(Array(50).fill('201'));
    const queuedAnchors = async () => {
      const [row] = await t.node.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM chain_outbox WHERE contract = 'anchors' AND status IN ('pending', 'signed')`,
      );
      return row?.n ?? 0;
    };
    const queued = await queuedAnchors();
    expect(queued).toBeGreaterThanOrEqual(50);

    // The revocation, relayed now: held at once, mined within 2 blocks, ahead of the queue.
    const relayedAt = await head();
    const revoked = await expectAccepted(await change('revoke'));
    expect((await read()).status).not.toBe(200);
    const [entry] = await t.node.db.query<{ id: string }>(
      `SELECT id::text AS id FROM chain_outbox WHERE contract = 'consent' AND function_name = 'revoke'`,
    );
    let minedIn = -1n;
    await waitFor(
      'the revocation to be mined',
      async () => {
        const [row] = await t.node.db.query<{ tx_hash: Hex | null; status: string }>(
          'SELECT tx_hash, status FROM chain_outbox WHERE id = $1',
          [entry!.id],
        );
        if (!row?.tx_hash) return false;
        const receipt = await t.node.chain.publicClient
          .getTransactionReceipt({ hash: row.tx_hash })
          .catch(() => undefined);
        if (!receipt) return false;
        expect(receipt.status).toBe('success');
        minedIn = receipt.blockNumber;
        return true;
      },
      60_000,
    );
    console.log(
      `revocation relayed at block ${relayedAt} with ${queued} anchors queued, mined in block ${minedIn}`,
    );
    expect(minedIn - relayedAt).toBeLessThanOrEqual(2n);
    await waitFor('the revocation to be final', async () => (await statusAt(revoked)) === 'inactive', 60_000);
    expect((await read()).status).not.toBe(200);
    // Anchors queued before it were mined after it: it went ahead of the queue.
    await waitForAnchoringDrained(t.fhirUrl.replace(/\/fhir$/, ''));
    const [overtaken] = await t.node.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM chain_outbox
       WHERE contract = 'anchors' AND id < $1 AND status = 'confirmed' AND block_number > $2`,
      [entry!.id, minedIn.toString()],
    );
    expect(overtaken?.n ?? 0).toBeGreaterThan(0);

    await t.stop();
    await expectConsistentAfterCrashes(dataDir);
  }, 300_000);
});

function observation(patientId: string) {
  return {
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
    subject: { reference: `Patient/${patientId}` },
  };
}
