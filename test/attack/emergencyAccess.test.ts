/**
 * Issue 19, break-glass and "who has access":
 * - break-glass needed the patient's raw id, and "find a patient" lists only patients who
 *   consented, so an emergency clinician could not reach a patient who never did: now
 *   `Patient/$emergency-lookup` finds them by family name and birth date (or identifier),
 *   audited, answering only what it takes to pick the patient, and opening nothing;
 * - the patient was not notified (the opening showed only when they opened their report): now a
 *   `Communication` lands in their compartment at once and the institution's webhook is posted;
 * - the portal's "who has access" showed only signed consents: now every current basis is listed
 *   in words, the treatment policy's care team, restrictions and open break-glass windows included.
 */
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Address } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForOutboxEntry } from '../../src/chain/outbox/outboxEntry.ts';
import { userCreateCommand } from '../../src/cli/commands/userCreate.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

/** Parsed JSON, read loosely by the assertions. */
type Json = ReturnType<typeof JSON.parse>;
const SECRET = 'webhook-secret-for-tests';
const REASON = 'unconscious on arrival, no relatives reachable';

describe('break-glass for a patient who never consented, and the patient told at once', () => {
  let t: TestNode;
  let hook: Server;
  const posts: { body: string; signature: string | undefined }[] = [];
  const zed = privateKeyToAccount(generatePrivateKey());
  const er = privateKeyToAccount(generatePrivateKey());
  const carer = privateKeyToAccount(generatePrivateKey());
  const ids = { zed: '', twin: '', carer: '' };
  let ehr: string;

  const call = async (
    authorization: string,
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: unknown,
  ) => {
    const response = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: {
        authorization,
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as Json };
  };
  const emergency = { 'x-purpose-of-use': 'ETREAT', 'x-break-glass-reason': REASON };
  const lookup = (authorization: string, parameters: Record<string, string>, headers = emergency) =>
    call(authorization, 'POST', 'Patient/$emergency-lookup', headers, {
      resourceType: 'Parameters',
      parameter: Object.entries(parameters).map(([name, valueString]) => ({ name, valueString })),
    });
  const practitioner = (who: typeof er, username: string, fhirId: string) =>
    t.bearer({
      kind: 'practitioner',
      scope: 'user/*.rs',
      subject: username,
      fhirUser: `Practitioner/${fhirId}`,
      address: who.address.toLowerCase(),
    });
  const register = async (who: typeof er, username: string, fhirId: string) => {
    const created = await userCreateCommand.run(t.node, {
      values: {
        role: 'practitioner',
        username,
        password: 'correct horse battery',
        address: who.address.toLowerCase(),
        'fhir-id': fhirId,
      },
      positionals: [],
    });
    const id = (created.json as { registry_outbox_id: string }).registry_outbox_id;
    await waitForOutboxEntry(t.node.db, BigInt(id), 60_000);
  };

  beforeAll(async () => {
    hook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => {
        body += chunk;
      });
      request.on('end', () => {
        const signature = request.headers['x-medledger-signature'];
        posts.push({ body, signature: Array.isArray(signature) ? signature[0] : signature });
        // The first delivery fails: the notice is retried until the hospital's system takes it.
        response.statusCode = posts.length === 1 ? 503 : 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, '127.0.0.1', resolve));
    const port = (hook.address() as AddressInfo).port;
    t = await startTestNode({
      env: {
        MEDLEDGER_BREAK_GLASS_WEBHOOK: `http://127.0.0.1:${port}/notices`,
        MEDLEDGER_BREAK_GLASS_WEBHOOK_SECRET: SECRET,
        MEDLEDGER_NAME: 'St Example',
      },
    });
    ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.carer = await t.create(
      { resourceType: 'Practitioner', name: [{ given: ['Clara'], family: 'Carer' }] },
      ehr,
    );
    const patient = (family: string, birthDate: string, address?: string) => ({
      resourceType: 'Patient',
      name: [{ family, given: ['Zed'] }],
      birthDate,
      gender: 'male',
      telecom: [{ system: 'phone', value: '+1-555-0100' }],
      address: [{ line: ['1 Secret Street'], city: 'Hidden' }],
      ...(address ? { identifier: [{ system: 'urn:medledger:address', value: address }] } : {}),
    });
    ids.zed = await t.create(patient('Emergent', '1970-01-02', zed.address.toLowerCase()), ehr);
    ids.twin = await t.create(patient('Emergent', '1981-05-06'), ehr);
    await t.create(
      {
        resourceType: 'Encounter',
        status: 'in-progress',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'EMER' },
        subject: { reference: `Patient/${ids.zed}` },
        participant: [{ individual: { reference: `Practitioner/${ids.carer}` } }],
      },
      ehr,
    );
    await register(er, 'dr-er', 'er-doc');
    await register(carer, 'dr-carer', ids.carer);
  }, 120_000);
  afterAll(async () => {
    await t?.stop();
    await new Promise((resolve) => hook?.close(resolve));
  });

  it('finds the patient by family name and birth date, answers only enough to pick, opens nothing', async () => {
    const token = await practitioner(er, 'dr-er', 'er-doc');
    // Without the emergency headers, as a patient, or from another institution: refused.
    expect((await lookup(token, { family: 'Emergent', birthdate: '1970-01-02' }, {} as never)).status).toBe(
      403,
    );
    const asPatient = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.twin });
    expect((await lookup(asPatient, { family: 'Emergent', birthdate: '1970-01-02' })).status).toBe(403);
    expect((await lookup(token, { family: 'Emergent' })).status).toBe(400);

    const found = await lookup(token, { family: 'emergent', birthdate: '1970-01-02' });
    expect(found.status).toBe(200);
    expect(found.body.entry.map((e: Json) => e.resource.id)).toEqual([ids.zed]);
    const picked = found.body.entry[0].resource;
    expect(picked).toMatchObject({ name: [{ family: 'Emergent', given: ['Zed'] }], birthDate: '1970-01-02' });
    const text = JSON.stringify(found.body);
    for (const hidden of ['Secret Street', '555-0100', zed.address.toLowerCase(), 'urn:medledger:address'])
      expect(text).not.toContain(hidden);
    // Exact names only: a prefix finds nobody.
    expect((await lookup(token, { family: 'Emerg', birthdate: '1970-01-02' })).body.total).toBe(0);
    // It opened nothing: no emergency access on chain, the record is still closed to this clinician.
    expect(await t.countRows('chain_emergency_access')).toBe(0);
    expect((await call(token, 'GET', `Patient/${ids.zed}`)).status).toBe(404);

    // The lookup is in the patient's own access report, with its reason.
    await t.node.audit.flush();
    const asZed = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.zed });
    const report = JSON.stringify((await call(asZed, 'GET', `Patient/${ids.zed}/$access-report`)).body);
    expect(report).toContain('Patient/$emergency-lookup');
    expect(report).toContain(REASON);
  });

  it('breaking the glass writes a Communication to the patient and posts the webhook (retried, signed)', async () => {
    const token = await practitioner(er, 'dr-er', 'er-doc');
    const opened = await call(token, 'GET', `Patient/${ids.zed}`, emergency);
    expect(opened.status).toBe(200);

    const asZed = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.zed });
    const notices = await call(asZed, 'GET', `Communication?patient=${ids.zed}`);
    expect(notices.status).toBe(200);
    expect(notices.body.entry).toHaveLength(1);
    const notice = notices.body.entry[0].resource;
    expect(notice).toMatchObject({
      status: 'completed',
      category: [{ coding: [{ code: 'notification' }] }],
      recipient: [{ reference: `Patient/${ids.zed}` }],
    });
    expect(notice.payload[0].contentString).toContain('dr-er opened emergency access');
    expect(notice.payload[0].contentString).not.toContain(REASON);

    // The first post is answered 503; the retry is taken. Each is signed with the secret.
    const started = Date.now();
    while (posts.length < 2) {
      expect(Date.now() - started, 'webhook retried').toBeLessThan(30_000);
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const post of posts) {
      expect(post.signature).toBe(`sha256=${createHmac('sha256', SECRET).update(post.body).digest('hex')}`);
      expect(JSON.parse(post.body)).toMatchObject({
        event: 'break-glass-opened',
        patient: `Patient/${ids.zed}`,
        communication: `Communication/${notice.id}`,
        institution: 'St Example',
      });
      expect(post.body).not.toContain(REASON);
    }
    const [delivery] = await t.node.db.query<{ delivered: boolean; attempts: number }>(
      'SELECT delivered_at IS NOT NULL AS delivered, attempts FROM notice_deliveries',
    );
    expect(delivery).toEqual({ delivered: true, attempts: 2 });
  }, 60_000);

  it('"who has access" lists every basis in words: care team, restriction, break-glass, registrars, officers', async () => {
    const asZed = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.zed });
    const who = async (authorization: string, id = ids.zed) => {
      const response = await fetch(
        `${t.fhirUrl.replace(/\/fhir$/, '')}/portal/api/patients/${id}/who-has-access`,
        {
          headers: { authorization },
        },
      );
      return { status: response.status, body: (await response.json()) as Json };
    };
    const first = await who(asZed);
    expect(first.status).toBe(200);
    expect(first.body.policy.treatmentAccess).toBe('care-team');
    const byBasis = (body: Json, basis: string) => body.entries.filter((e: Json) => e.basis === basis);
    const team = byBasis(first.body, 'treatment-relationship');
    expect(team).toHaveLength(1);
    expect(team[0]).toMatchObject({ who: 'Clara Carer', fhirUser: `Practitioner/${ids.carer}` });
    expect(team[0].words).toMatch(/participant of Encounter\//);
    const windows = byBasis(first.body, 'emergency');
    expect(windows).toHaveLength(1);
    expect(windows[0].who).toBe('dr-er');
    expect(Date.parse(windows[0].until)).toBeGreaterThan(Date.now());
    expect(windows[0].txHash).toMatch(/^0x[0-9a-f]{64}$/);
    for (const basis of ['registration', 'system', 'audit-review'])
      expect(byBasis(first.body, basis), basis).toHaveLength(1);

    // The patient restricts her carer: the care-team entry goes, a restriction entry says so.
    await t.grant(zed, carer.address as Address, { resourceTypes: ['Observation'], purposes: ['TREAT'] });
    expect(byBasis((await who(asZed)).body, 'grant')).toHaveLength(1);
    await t.revoke(zed, carer.address as Address);
    const after = (await who(asZed)).body;
    expect(byBasis(after, 'treatment-relationship')).toHaveLength(0);
    expect(byBasis(after, 'grant')).toHaveLength(0);
    expect(byBasis(after, 'restricted')).toMatchObject([{ who: 'dr-carer' }]);
    expect(
      (await call(await practitioner(carer, 'dr-carer', ids.carer), 'GET', `Patient/${ids.zed}`)).status,
    ).toBe(404);

    // Only the patient herself.
    const other = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.twin });
    expect((await who(other)).status).toBe(404);
    expect((await who(await practitioner(er, 'dr-er', 'er-doc'))).status).toBe(403);
  }, 60_000);
});
