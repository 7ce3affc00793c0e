/**
 * The exchange protocol against one in-process custodian (embedded anvil): a second member is
 * admitted in the Registry with its own signing and X25519 keys, and talks to the custodian the
 * way a node does (requestRecords, verifyDisclosure). The three-process story is exchange.test.ts.
 */
import { randomBytes } from 'node:crypto';
import { x25519 } from '@noble/curves/ed25519.js';
import { type Address, bytesToHex, type Hex, parseEther } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registryAbi } from '../../src/chain/generated/contracts.ts';
import { enqueueChainWrite } from '../../src/chain/outbox/enqueueChainWrite.ts';
import { waitForOutboxEntry } from '../../src/chain/outbox/outboxEntry.ts';
import { createAnvilClients } from '../../src/chain/testing/anvil.ts';
import { type Disclosure, RECORDS_PATH } from '../../src/exchange/disclosure.ts';
import { ExchangeError } from '../../src/exchange/ExchangeError.ts';
import { findMember } from '../../src/exchange/memberDirectory.ts';
import { requestRecords } from '../../src/exchange/requestRecords.ts';
import { signExchangeRequest } from '../../src/exchange/signedRequest.ts';
import { verifyDisclosure } from '../../src/exchange/verifyDisclosure.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

/** A member node as far as the protocol sees it: a signing account and an X25519 key pair. */
function memberKeys() {
  const account = privateKeyToAccount(generatePrivateKey());
  const encryptionPrivateKey = new Uint8Array(randomBytes(32));
  return {
    account,
    encryptionPrivateKey,
    encryptionPublicKey: bytesToHex(x25519.getPublicKey(encryptionPrivateKey)),
  };
}

describe('member-to-member exchange (one custodian in process)', () => {
  let t: TestNode;
  const clinic = memberKeys();
  const outsider = memberKeys();
  const patient = privateKeyToAccount(generatePrivateKey());
  let patientId = '';
  let admin = '';
  const custodian = () =>
    findMember(t.node, t.node.identity.account.address) as Promise<
      NonNullable<Awaited<ReturnType<typeof findMember>>>
    >;
  const asClinic = () => ({ identity: clinic, chain: t.node.chain });
  const ask = async (who = asClinic()) =>
    requestRecords(who, await custodian(), { patient: patient.address.toLowerCase(), purpose: 'TREAT' });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => {
        throw new Error('expected a refusal');
      },
      (error: unknown) => {
        if (!(error instanceof ExchangeError)) throw error;
        return error.code;
      },
    );

  const chainWrite = async (functionName: string, args: (string | number)[]) => {
    const id = await enqueueChainWrite(t.node.db, {
      dedupeKey: `test:${functionName}:${args.join(':')}`,
      contract: 'registry',
      functionName,
      args,
    });
    t.node.outbox.notify();
    const state = await waitForOutboxEntry(t.node.db, id!);
    expect(state.status).toBe('confirmed');
    await t.node.indexer.waitForBlock(state.blockNumber!);
  };

  const anchorEverything = async () => {
    await t.node.audit.flush();
    const batches = [...(await t.node.recordBatcher.flush()), ...(await t.node.auditBatcher.flush())];
    t.node.outbox.notify();
    for (const b of batches) {
      const state = await waitForOutboxEntry(t.node.db, b.outboxId!);
      expect(state.status).toBe('confirmed');
      await t.node.indexer.waitForBlock(state.blockNumber!);
    }
  };

  beforeAll(async () => {
    t = await startTestNode();
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    // Admission by the sole member's vote carries the clinic's key and endpoint.
    await chainWrite('propose', [
      0,
      clinic.account.address,
      'Clinic B',
      clinic.encryptionPublicKey,
      'http://127.0.0.1:9',
    ]);
    const create = async (body: Record<string, unknown>) => {
      const r = await fetch(`${t.fhirUrl}/${body.resourceType as string}`, {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { id: string }).id;
    };
    patientId = await create({
      resourceType: 'Patient',
      identifier: [{ system: 'urn:medledger:address', value: patient.address.toLowerCase() }],
    });
    for (const code of ['8867-4', '8480-6'])
      await create({
        resourceType: 'Observation',
        status: 'final',
        code: { coding: [{ system: 'http://loinc.org', code }] },
        subject: { reference: `Patient/${patientId}` },
        valueQuantity: { value: 72, unit: '/min' },
      });
    await create({
      resourceType: 'Condition',
      code: { text: 'asthma' },
      subject: { reference: `Patient/${patientId}` },
    });
    await anchorEverything();
  });
  afterAll(async () => t?.stop());

  it('the directory serves a member’s registered endpoint and key', async () => {
    const member = await findMember(t.node, clinic.account.address);
    expect(member).toMatchObject({
      name: 'Clinic B',
      endpoint: 'http://127.0.0.1:9',
      encryptionKey: clinic.encryptionPublicKey,
      active: true,
    });
  });

  it('a member without consent gets nothing', async () => {
    expect(await refusal(ask())).toBe('ERR_EXCHANGE_NO_CONSENT');
  });

  it('with a grant it receives exactly the granted types, sealed to its key, and every record verifies', async () => {
    await t.grant(patient, clinic.account.address, {
      resourceTypes: ['Patient', 'Observation'],
      purposes: ['TREAT'],
    });
    const disclosure = await ask();
    const types = disclosure.records.map((r) => r.resourceType).sort();
    expect(types).toEqual(['Observation', 'Observation', 'Patient']);
    expect(disclosure.pending).toEqual([]);
    const check = await verifyDisclosure(t.node, disclosure);
    expect(check.rejected).toEqual([]);
    expect(check.verified).toHaveLength(3);
    // Someone else's key cannot open an answer meant for the clinic.
    const stolen = {
      identity: { ...clinic, encryptionPrivateKey: outsider.encryptionPrivateKey },
      chain: t.node.chain,
    };
    expect(await refusal(ask(stolen))).toBe('ERR_EXCHANGE_RESPONSE');
  });

  it('a changed record, a wrong salt or another patient’s record is rejected against the chain', async () => {
    const disclosure = await ask();
    const changed: Disclosure = structuredClone(disclosure);
    const observation = changed.records.find((r) => r.resourceType === 'Observation')!;
    (observation.resource as unknown as { valueQuantity: { value: number } }).valueQuantity.value = 180;
    const patientRecord = changed.records.find((r) => r.resourceType === 'Patient')!;
    patientRecord.salt = `0x${'11'.repeat(32)}` as Hex;
    const check = await verifyDisclosure(t.node, changed);
    expect(check.rejected).toEqual(
      expect.arrayContaining([
        { reference: `Observation/${observation.id}/_history/1`, check: 'proof' },
        { reference: `Patient/${patientId}/_history/1`, check: 'proof' },
      ]),
    );
    // Without a verified Patient carrying the patient's address nothing binds the rest to them.
    expect(check.verified).toEqual([]);
    const otherPatient: Disclosure = {
      ...structuredClone(disclosure),
      patient: outsider.account.address.toLowerCase(),
    };
    expect((await verifyDisclosure(t.node, otherPatient)).verified).toEqual([]);
  });

  it('a replayed request, a stale one, a changed body and one addressed to another member are refused', async () => {
    const member = await custodian();
    const body = JSON.stringify({ patient: patient.address.toLowerCase() });
    const post = (headers: Record<string, string>, sent = body) =>
      fetch(`${member.endpoint}${RECORDS_PATH}`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: sent,
      });
    const domain = { chainId: t.node.chain.addresses.chainId, registry: t.node.chain.addresses.registry };
    const signed = (overrides: { timestamp?: number; custodian?: Address } = {}) =>
      signExchangeRequest({
        signer: clinic.account,
        domain,
        method: 'POST',
        path: RECORDS_PATH,
        body,
        custodian: overrides.custodian ?? (member.address as Address),
        ...(overrides.timestamp === undefined ? {} : { timestamp: overrides.timestamp }),
      });
    const codeOf = async (r: Response) =>
      ((await r.json()) as { issue: { details: { coding: { code: string }[] } }[] }).issue[0]?.details
        .coding[0]?.code;

    const headers = await signed();
    expect((await post(headers)).status).toBe(200);
    const replay = await post(headers);
    expect(replay.status).toBe(401);
    expect(await codeOf(replay)).toBe('ERR_EXCHANGE_REPLAY');

    const stale = await post(await signed({ timestamp: Math.floor(Date.now() / 1000) - 600 }));
    expect(stale.status).toBe(401);
    const changed = await post(
      await signed(),
      JSON.stringify({ patient: outsider.account.address.toLowerCase() }),
    );
    expect(changed.status).toBe(401);
    const elsewhere = await post(await signed({ custodian: outsider.account.address }));
    expect(elsewhere.status).toBe(401);
    expect(await codeOf(elsewhere)).toBe('ERR_EXCHANGE_SIGNATURE');
  });

  it('a node that is not a member gets nothing, even with a grant', async () => {
    await t.grant(patient, outsider.account.address, {
      resourceTypes: ['Patient', 'Observation'],
      purposes: ['TREAT'],
    });
    expect(await refusal(ask({ identity: outsider, chain: t.node.chain }))).toBe('ERR_EXCHANGE_NOT_MEMBER');
  });

  it('revoking the grant stops the next request', async () => {
    await t.revoke(patient, clinic.account.address);
    expect(await refusal(ask())).toBe('ERR_EXCHANGE_NO_CONSENT');
  });

  it('the patient’s access report lists each disclosure and refusal with its proof', async () => {
    await anchorEverything();
    const asPatient = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.rs',
      patient: patientId,
      address: patient.address.toLowerCase(),
    });
    const r = await fetch(`${t.fhirUrl}/Patient/${patientId}/$access-report`, {
      headers: { authorization: asPatient },
    });
    expect(r.status).toBe(200);
    const report = (await r.json()) as {
      entry: {
        resource: { outcome: string; agent: { who?: { identifier?: { value?: string } } }[] };
        extension: { extension: { url: string; valueCode?: string }[] }[];
      }[];
    };
    const text = (e: unknown) => JSON.stringify(e);
    const byClinic = report.entry.filter((e) =>
      text(e.resource).includes(clinic.account.address.toLowerCase()),
    );
    expect(byClinic.some((e) => e.resource.outcome === '0' && text(e.resource).includes('disclosed'))).toBe(
      true,
    );
    expect(byClinic.some((e) => e.resource.outcome === '4')).toBe(true);
    const byOutsider = report.entry.filter((e) =>
      text(e.resource).includes(outsider.account.address.toLowerCase()),
    );
    expect(byOutsider.map((e) => e.resource.outcome)).toContain('4');
    const disclosed = byClinic.find((e) => e.resource.outcome === '0')!;
    const status = disclosed.extension[0]?.extension.find((p) => p.url === 'status')?.valueCode;
    expect(status).toBe('anchored');
  });

  it('a removed member gets nothing', async () => {
    await t.grant(patient, clinic.account.address, { resourceTypes: ['Patient'], purposes: ['TREAT'] });
    expect((await ask()).records).toHaveLength(1);
    // Two members: removal needs both votes; the clinic votes with its own funded account.
    await chainWrite('propose', [1, clinic.account.address, '', '0x', '']);
    const { testClient, publicClient, walletFor } = createAnvilClients(t.node.chain.rpcUrl);
    await testClient.setBalance({ address: clinic.account.address, value: parseEther('1') });
    const walletClient = walletFor(clinic.account);
    const count = await publicClient.readContract({
      address: t.node.chain.addresses.registry,
      abi: registryAbi,
      functionName: 'proposalCount',
    });
    const hash = await walletClient.writeContract({
      address: t.node.chain.addresses.registry,
      abi: registryAbi,
      functionName: 'vote',
      args: [count - 1n],
    });
    const receipt = await publicClient.waitForTransactionReceipt({ hash });
    await t.node.indexer.waitForBlock(receipt.blockNumber);
    expect(await refusal(ask())).toBe('ERR_EXCHANGE_NOT_MEMBER');
  });
});
