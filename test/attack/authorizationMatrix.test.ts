/**
 * The authorization matrix over every route a caller can reach about a patient (FHIR
 * interactions, Consent, $grant/$revoke/$consent-typed-data, $access-report, AuditEvent search,
 * proofs) and every hostile actor: anonymous, tampered token, token of a foreign issuer, expired
 * token, wrong patient, another member without consent, revoked consent, expired consent, wrong
 * purpose, removed member. Every attempt is refused with an OperationOutcome that carries none of
 * the patient's data, and every attempt leaves exactly one audit event recording the refusal.
 * Forged and replayed consent signatures are refused, audited, and grant nothing.
 * (src/fhir/accessMatrix.test.ts covers the allowed paths per route; this adds the actors.)
 */
import type { Hex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessTokens } from '../../src/access/AccessTokens.ts';
import { mintAccessToken } from '../../src/access/testing/mintAccessToken.ts';
import { auditContextOf } from '../../src/audit/AuditContext.ts';
import { searchAuditEvents } from '../../src/audit/searchAuditEvents.ts';
import type { GrantMessage } from '../../src/chain/consent/consentTypedData.ts';
import { encodePurposes, encodeResourceTypes } from '../../src/chain/consentCodes.ts';
import { consentAbi, registryAbi } from '../../src/chain/generated/contracts.ts';
import { enqueueChainWrite } from '../../src/chain/outbox/enqueueChainWrite.ts';
import { waitForOutboxEntry } from '../../src/chain/outbox/outboxEntry.ts';
import { anvilAccount, createAnvilClients } from '../../src/chain/testing/anvil.ts';
import { signGrant } from '../../src/chain/testing/signConsent.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';
import { isOperationOutcome, rawRequest, storedFingerprint } from './support/rawRequest.ts';

const FHIR_JSON = 'application/fhir+json';
/** Distinctive enough that finding it in any answer means the patient's data leaked. */
const FAMILY = 'Quillfeatherington';
const NOTE = 'zebra-lantern-observation';

interface Route {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  contentType?: string;
}

describe('authorization matrix: every route, every hostile actor, zero data, every attempt audited', () => {
  let t: TestNode;
  let admin: string;
  const alice = privateKeyToAccount(generatePrivateKey());
  const bob = privateKeyToAccount(generatePrivateKey());
  const ids = { alice: '', bob: '', obs: '' };
  const now = () => Math.floor(Date.now() / 1000);

  const routes = (): Route[] => [
    { name: 'read', method: 'GET', path: `Observation/${ids.obs}` },
    { name: 'vread', method: 'GET', path: `Observation/${ids.obs}/_history/1` },
    { name: 'history', method: 'GET', path: `Observation/${ids.obs}/_history` },
    { name: 'search', method: 'GET', path: `Observation?patient=${ids.alice}` },
    { name: 'compartment search', method: 'GET', path: `Patient/${ids.alice}/Observation` },
    { name: 'patient read', method: 'GET', path: `Patient/${ids.alice}` },
    { name: 'everything', method: 'GET', path: `Patient/${ids.alice}/$everything` },
    {
      name: 'create',
      method: 'POST',
      path: 'Observation',
      body: {
        resourceType: 'Observation',
        status: 'final',
        code: { text: 'x' },
        subject: { reference: `Patient/${ids.alice}` },
      },
    },
    {
      name: 'update',
      method: 'PUT',
      path: `Observation/${ids.obs}`,
      body: {
        resourceType: 'Observation',
        id: ids.obs,
        status: 'amended',
        code: { text: NOTE },
        subject: { reference: `Patient/${ids.alice}` },
      },
    },
    {
      name: 'patch',
      method: 'PATCH',
      path: `Observation/${ids.obs}`,
      body: [{ op: 'replace', path: '/status', value: 'amended' }],
      contentType: 'application/json-patch+json',
    },
    { name: 'delete', method: 'DELETE', path: `Observation/${ids.obs}` },
    { name: 'consent search', method: 'GET', path: `Consent?patient=${ids.alice}` },
    {
      name: 'consent typed data',
      method: 'GET',
      path: `Patient/${ids.alice}/$consent-typed-data?grantee=${bob.address}&resourceType=Observation&purpose=TREAT`,
    },
    {
      name: 'grant',
      method: 'POST',
      path: `Patient/${ids.alice}/$grant`,
      body: { resourceType: 'Parameters', parameter: [{ name: 'grantee', valueString: bob.address }] },
    },
    {
      name: 'revoke',
      method: 'POST',
      path: `Patient/${ids.alice}/$revoke`,
      body: { resourceType: 'Parameters', parameter: [{ name: 'grantee', valueString: bob.address }] },
    },
    { name: 'compartment consent', method: 'GET', path: `Patient/${ids.alice}/Consent` },
    { name: 'compartment audit', method: 'GET', path: `Patient/${ids.alice}/AuditEvent` },
    { name: 'access report', method: 'GET', path: `Patient/${ids.alice}/$access-report` },
    { name: 'audit search', method: 'GET', path: `AuditEvent?patient=${ids.alice}` },
    { name: 'version proof', method: 'GET', path: `Observation/${ids.obs}/_history/1/$proof` },
  ];

  async function attempt(
    authorization: string | undefined,
    route: Route,
    headers: Record<string, string> = {},
  ) {
    const before = await t.countRows('audit_events');
    const stored = await storedFingerprint(t);
    const answer = await rawRequest(t.fhirUrl, {
      method: route.method,
      path: `/fhir/${route.path}`,
      headers: {
        ...(authorization ? { authorization } : {}),
        ...(route.body === undefined ? {} : { 'content-type': route.contentType ?? FHIR_JSON }),
        ...headers,
      },
      ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
    });
    const label = `${route.name} (${route.method} ${route.path})`;
    expect(answer.status, `${label}: ${answer.text.slice(0, 200)}`).toBeGreaterThanOrEqual(401);
    expect(answer.status, label).toBeLessThan(500);
    expect(isOperationOutcome(answer.json), label).toBe(true);
    expect(answer.text, label).not.toContain(FAMILY);
    expect(answer.text, label).not.toContain(NOTE);
    expect(answer.text, label).not.toContain('"valueQuantity"');
    expect(await t.countRows('audit_events'), `${label} audited once`).toBe(before + 1);
    expect(await storedFingerprint(t), `${label} stored nothing`).toEqual(stored);
    return answer;
  }

  /** Every route refused for this actor; the actor's audit events (by client id) all record a refusal. */
  async function refusedEverywhere(authorization: string | undefined, clientId?: string, headers = {}) {
    const statuses: Record<string, number> = {};
    for (const route of routes())
      statuses[route.name] = (await attempt(authorization, route, headers)).status;
    if (clientId) {
      const { resources } = await searchAuditEvents(auditContextOf(t.node), {
        agent: clientId,
        _count: 1000,
      });
      expect(resources).toHaveLength(routes().length);
      for (const event of resources) expect((event as { outcome: string }).outcome).not.toBe('0');
    }
    return statuses;
  }

  let clientSeq = 0;
  const memberToken = (address: string, extra: Record<string, unknown> = {}) => {
    const clientId = `attacker-${++clientSeq}`;
    return t
      .bearer({
        kind: 'system',
        scope: 'system/*.cruds',
        address: address.toLowerCase(),
        internal: false,
        clientId,
        ...extra,
      })
      .then((authorization) => ({ authorization, clientId }));
  };

  beforeAll(async () => {
    t = await startTestNode();
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const create = async (body: unknown) => {
      const r = await rawRequest(t.fhirUrl, {
        method: 'POST',
        path: `/fhir/${(body as { resourceType: string }).resourceType}`,
        headers: { authorization: admin, 'content-type': FHIR_JSON },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(201);
      return (r.json as { id: string }).id;
    };
    const patient = (who: typeof alice, family: string) => ({
      resourceType: 'Patient',
      name: [{ family }],
      identifier: [{ system: 'urn:medledger:address', value: who.address.toLowerCase() }],
    });
    ids.alice = await create(patient(alice, FAMILY));
    ids.bob = await create(patient(bob, 'Other'));
    ids.obs = await create({
      resourceType: 'Observation',
      status: 'final',
      code: { text: NOTE },
      subject: { reference: `Patient/${ids.alice}` },
      valueQuantity: { value: 72, unit: 'beats/min' },
    });
  }, 120_000);
  afterAll(async () => t?.stop());

  it('anonymous: 401 everywhere, audited as unauthenticated', async () => {
    const statuses = await refusedEverywhere(undefined);
    expect(new Set(Object.values(statuses))).toEqual(new Set([401]));
  });

  it('a tampered token (payload edited, signature kept) and a token of a foreign issuer: 401 everywhere', async () => {
    const token = (await t.bearer({ kind: 'system', scope: 'system/Practitioner.rs' })).slice(
      'Bearer '.length,
    );
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    const forged = Buffer.from(JSON.stringify({ ...claims, scope: 'system/*.cruds' })).toString('base64url');
    expect(
      new Set(Object.values(await refusedEverywhere(`Bearer ${header}.${forged}.${signature}`))),
    ).toEqual(new Set([401]));
    const foreign = await AccessTokens.ephemeral(t.fhirUrl.replace(/\/fhir$/, ''));
    const foreignToken = await mintAccessToken(foreign, { kind: 'system', scope: 'system/*.cruds' });
    expect(new Set(Object.values(await refusedEverywhere(`Bearer ${foreignToken}`)))).toEqual(new Set([401]));
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${payload}.`;
    expect(new Set(Object.values(await refusedEverywhere(`Bearer ${none}`)))).toEqual(new Set([401]));
  });

  it('an expired token: 401 everywhere', async () => {
    const expired = await t.bearer({
      kind: 'system',
      scope: 'system/*.cruds',
      lifetimeSeconds: -60,
      clientId: 'expired-client',
    });
    // An expired token's claims are not trusted, so its events carry no client id: counted per attempt.
    const statuses = await refusedEverywhere(expired);
    expect(new Set(Object.values(statuses))).toEqual(new Set([401]));
  });

  it("another patient: Bob's patient token gets 404 or 403 on every route about Alice", async () => {
    const asBob = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.cruds',
      patient: ids.bob,
      address: bob.address.toLowerCase(),
      clientId: 'bob-app',
    });
    const statuses = await refusedEverywhere(asBob, 'bob-app');
    for (const [name, status] of Object.entries(statuses)) expect([403, 404], name).toContain(status);
  });

  it('another member without consent, with revoked consent, with expired consent, and with the wrong purpose', async () => {
    const none = privateKeyToAccount(generatePrivateKey());
    const { authorization: a1, clientId: c1 } = await memberToken(none.address);
    await refusedEverywhere(a1, c1);

    const revoked = privateKeyToAccount(generatePrivateKey()).address;
    await t.grant(alice, revoked, { resourceTypes: ['Observation', 'Patient'], purposes: ['TREAT'] });
    const { authorization: a2 } = await memberToken(revoked);
    const granted = await rawRequest(t.fhirUrl, {
      method: 'GET',
      path: `/fhir/Observation/${ids.obs}`,
      headers: { authorization: a2 },
    });
    expect(granted.status).toBe(200); // the grant works before it is revoked
    await t.revoke(alice, revoked);
    const { authorization: a2b, clientId: c2b } = await memberToken(revoked);
    await refusedEverywhere(a2b, c2b);

    const expiring = privateKeyToAccount(generatePrivateKey()).address;
    const expiry = now() + 4;
    await t.grant(alice, expiring, {
      resourceTypes: ['Observation', 'Patient'],
      purposes: ['TREAT'],
      notBefore: now() - 60,
      expiry,
    });
    const { authorization: a3, clientId: c3 } = await memberToken(expiring);
    while (Date.now() / 1000 <= expiry + 1) await new Promise((r) => setTimeout(r, 200));
    await refusedEverywhere(a3, c3);

    const treating = privateKeyToAccount(generatePrivateKey()).address;
    await t.grant(alice, treating, { resourceTypes: ['Observation', 'Patient'], purposes: ['TREAT'] });
    const { authorization: a4, clientId: c4 } = await memberToken(treating);
    await refusedEverywhere(a4, c4, { 'x-purpose-of-use': 'HMARKT' });
  }, 120_000);

  it('a removed member: consent granted while it was a member no longer opens anything', async () => {
    const leaving = anvilAccount(7);
    await t.grant(alice, leaving.address, { resourceTypes: ['Observation', 'Patient'], purposes: ['TREAT'] });
    // Admit (the node is the only member, so its proposal carries), then remove (the member votes too).
    await chainWrite('registry', 'propose', [
      0,
      leaving.address,
      'Leaving Clinic',
      '0x',
      'https://leaving.example',
    ]);
    const proposal = await chainWrite('registry', 'propose', [1, leaving.address, '', '0x', '']);
    expect(proposal).toBeGreaterThan(0n);
    const clients = createAnvilClients(t.node.chain.rpcUrl);
    const proposalId =
      (await t.node.chain.publicClient.readContract({
        address: t.node.chain.addresses.registry,
        abi: registryAbi,
        functionName: 'proposalCount',
      })) - 1n;
    const hash = await clients.walletFor(leaving).writeContract({
      address: t.node.chain.addresses.registry,
      abi: registryAbi,
      functionName: 'vote',
      args: [proposalId],
    });
    const receipt = await clients.publicClient.waitForTransactionReceipt({ hash });
    await t.node.indexer.waitForBlock(receipt.blockNumber);
    const [member] = await t.node.db.query<{ active: boolean }>(
      'SELECT active FROM chain_members WHERE address = $1',
      [leaving.address.toLowerCase()],
    );
    expect(member?.active).toBe(false);
    const { authorization, clientId } = await memberToken(leaving.address);
    await refusedEverywhere(authorization, clientId);
  }, 120_000);

  it('a forged patient signature and a replayed signature are refused, audited, and grant nothing', async () => {
    const grantee = privateKeyToAccount(generatePrivateKey()).address;
    const { consent, chainId } = t.node.chain.addresses;
    const nonce = Number(
      await t.node.chain.publicClient.readContract({
        address: consent,
        abi: consentAbi,
        functionName: 'nonceOf',
        args: [alice.address, grantee, t.node.identity.account.address],
      }),
    );
    const message: GrantMessage = {
      patient: alice.address,
      grantee,
      custodian: t.node.identity.account.address,
      resourceTypes: encodeResourceTypes(['Observation']),
      purposes: encodePurposes(['TREAT']),
      notBefore: now() - 60,
      expiry: now() + 3600,
      nonce,
      deadline: BigInt(now() + 600),
    };
    const asParameters = (signature: Hex) => ({
      resourceType: 'Parameters',
      parameter: [
        { name: 'grantee', valueString: grantee },
        { name: 'custodian', valueString: message.custodian },
        { name: 'resourceType', valueCode: 'Observation' },
        { name: 'purpose', valueCode: 'TREAT' },
        { name: 'notBefore', valueString: String(message.notBefore) },
        { name: 'expiry', valueString: String(message.expiry) },
        { name: 'nonce', valueString: String(nonce) },
        { name: 'deadline', valueString: String(message.deadline) },
        { name: 'signature', valueString: signature },
      ],
    });
    const { authorization: asGrantee } = await memberToken(grantee);
    const reads = () =>
      rawRequest(t.fhirUrl, {
        method: 'GET',
        path: `/fhir/Observation/${ids.obs}`,
        headers: { authorization: asGrantee },
      });
    const post = async (signature: Hex) => {
      const before = await t.countRows('audit_events');
      const chainWrites = (await storedFingerprint(t)).chain_writes ?? 0;
      const answer = await rawRequest(t.fhirUrl, {
        method: 'POST',
        path: `/fhir/Patient/${ids.alice}/$grant?wait=true`,
        headers: { authorization: admin, 'content-type': FHIR_JSON },
        body: JSON.stringify(asParameters(signature)),
      });
      expect(await t.countRows('audit_events')).toBe(before + 1);
      return { answer, relayed: ((await storedFingerprint(t)).chain_writes ?? 0) - chainWrites };
    };

    const mallory = privateKeyToAccount(generatePrivateKey());
    const forged = await post(await signGrant(mallory, { chainId, verifyingContract: consent }, message));
    expect(forged.answer.status).toBe(400);
    expect(isOperationOutcome(forged.answer.json)).toBe(true);
    expect(forged.relayed).toBe(0);
    expect((await reads()).status).toBe(404);

    const genuine = await signGrant(alice, { chainId, verifyingContract: consent }, message);
    const granted = await post(genuine);
    expect(granted.answer.status).toBe(200);
    expect((await reads()).status).toBe(200);
    await t.revoke(alice, grantee);
    expect((await reads()).status).toBe(404);

    const replayed = await post(genuine);
    expect(replayed.answer.status).toBeGreaterThanOrEqual(400);
    expect(replayed.answer.status).toBeLessThan(500);
    expect(replayed.answer.text).toMatch(/replay|nonce/);
    expect(replayed.relayed).toBe(0);
    expect((await reads()).status).toBe(404);
  }, 120_000);

  async function chainWrite(contract: 'registry', functionName: string, args: (string | number)[]) {
    const id = await t.node.db.transaction((tx) =>
      enqueueChainWrite(tx, {
        dedupeKey: `attack-test:${functionName}:${args.join(':')}`,
        contract,
        functionName,
        args,
      }),
    );
    if (id === undefined) throw new Error('not enqueued');
    t.node.outbox.notify();
    const state = await waitForOutboxEntry(t.node.db, id);
    if (state.status !== 'confirmed') throw new Error(`${functionName} failed: ${state.error}`);
    if (state.blockNumber !== null) await t.node.indexer.waitForBlock(state.blockNumber);
    return id;
  }
});
