/**
 * Fuzzing every endpoint with fast-check: generated and mutated FHIR (deep nesting, huge
 * strings, wrong types, unicode, BOMs, invalid UTF-8), wrong content types, hostile query
 * parameters and OAuth forms. The properties, for every request: never a 5xx; a 4xx from the
 * FHIR API is an OperationOutcome (from the token endpoint an RFC 6749 error object); a
 * rejected request stores nothing; and the node still answers /healthz afterwards.
 * `MEDLEDGER_FUZZ_RUNS` scales the number of runs (default 15 per property; `npm run test:attack` runs 500).
 */
import fc from 'fast-check';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';
import {
  isOperationOutcome,
  type RawAnswer,
  type RawRequest,
  rawRequest,
  storedFingerprint,
} from './support/rawRequest.ts';

const RUNS = Number(process.env.MEDLEDGER_FUZZ_RUNS ?? 15);
const FHIR_JSON = 'application/fhir+json';

const patient = {
  resourceType: 'Patient',
  identifier: [{ system: 'urn:fuzz', value: 'p-1' }],
  name: [{ family: 'Fuzz', given: ['Ada'] }],
  gender: 'female',
  birthDate: '1970-01-01',
  active: true,
};
const observation = (patientId: string) => ({
  resourceType: 'Observation',
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '8867-4' }] },
  subject: { reference: `Patient/${patientId}` },
  effectiveDateTime: '2024-01-01T10:00:00Z',
  valueQuantity: { value: 72, unit: 'beats/min', system: 'http://unitsofmeasure.org', code: '/min' },
});

/** Any JSON value, including unicode beyond the BMP, lone surrogates and control characters. */
const jsonValue = fc.jsonValue({ maxDepth: 4, stringUnit: 'binary' });
const nastyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 64 }),
  fc.constantFrom(
    '\u0000',
    '\uD800',
    '\uFEFF',
    '\u202E',
    '../../etc/passwd',
    "'; DROP TABLE record_versions; --",
    '%00',
    '$where',
    '<script>alert(1)</script>',
    'x'.repeat(100_000),
  ),
);

/** A valid resource with one element replaced, removed or added with a value of any type. */
function mutated(base: Record<string, unknown>) {
  const keys = Object.keys(base);
  return fc.oneof(
    fc.record({ key: fc.constantFrom(...keys), value: jsonValue }).map(({ key, value }) => ({
      ...base,
      [key]: value,
    })),
    fc.constantFrom(...keys.filter((k) => k !== 'resourceType')).map((key) => {
      const copy = { ...base };
      delete copy[key];
      return copy;
    }),
    fc.record({ key: nastyString, value: jsonValue }).map(({ key, value }) => ({ ...base, [key]: value })),
    nastyString.map((resourceType) => ({ ...base, resourceType })),
  );
}

/** Nesting deep enough to hurt a recursive walker, as text (JSON.stringify would refuse some). */
const deeplyNested = fc
  .tuple(fc.integer({ min: 100, max: 20_000 }), fc.constantFrom('[', '{"a":'))
  .map(([depth, open]) => {
    const close = open === '[' ? ']' : '}';
    return `{"resourceType":"Patient","extension":${open.repeat(depth)}1${close.repeat(depth)}}`;
  });

/** Bytes that are not UTF-8, BOMs of every kind, and a JSON body between them. */
const hostileBytes = fc
  .tuple(
    fc.constantFrom(
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]),
      Buffer.from([0xff, 0xfe]),
      Buffer.from([0xfe, 0xff]),
      Buffer.alloc(0),
    ),
    fc.uint8Array({ minLength: 0, maxLength: 64 }),
    fc.constantFrom(
      Buffer.from([0xc3, 0x28]),
      Buffer.from([0xff]),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80]),
    ),
  )
  .map(([bom, noise, invalid]) =>
    Buffer.concat([
      bom,
      Buffer.from('{"resourceType":"Patient","name":[{"family":"'),
      invalid,
      Buffer.from(noise),
      Buffer.from('"}]}'),
    ]),
  );

const body = (base: Record<string, unknown>) =>
  fc.oneof(
    { weight: 4, arbitrary: mutated(base).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: deeplyNested },
    { weight: 1, arbitrary: jsonValue.map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    { weight: 1, arbitrary: hostileBytes },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1, max: 3 })
        .map((mb) => JSON.stringify({ ...base, text: { status: 'generated', div: 'x'.repeat(mb << 20) } })),
    },
  );

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant(FHIR_JSON) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'application/json',
      'application/json-patch+json',
      'application/fhir+json; charset=utf-16',
      'text/plain',
      'application/xml',
      'application/fhir+xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      '',
      '*/*',
    ),
  },
);

/** Percent-encodes as UTF-8; lone surrogates (which have no UTF-8 form) become U+FFFD. */
const encode = (value: string) => encodeURIComponent(value.replace(/[\uD800-\uDFFF]/gu, '\uFFFD'));

const queryPart = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          '_count',
          '_sort',
          '_include',
          '_revinclude',
          '_summary',
          '_elements',
          '_id',
          '_lastUpdated',
          'patient',
          'subject',
          'subject:Patient',
          'date',
          'code',
          'value-quantity',
          'name',
          'identifier',
          'birthdate',
          'general-practitioner.name',
          '_has:Observation:patient:code',
          'start',
          'end',
          'agent',
          'action',
          'outcome',
          'grantee',
          'purpose',
          'resourceType',
        ),
        fc.string({ maxLength: 12 }),
      ),
      fc.oneof(
        fc.constantFrom(
          '-1',
          '0',
          '99999999999999999999',
          'ge2020-01-01',
          'lt',
          'eq1e309',
          'Patient/',
          'http://loinc.org|',
          '|||',
          '%',
          '%E0%A4%A',
          '%00',
          'ap9999-99-99',
          'NaN',
          'true',
          'sa1|2|3',
        ),
        nastyString,
      ),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${encode(k)}=${encode(v)}`).join('&'));

describe('fuzzing every endpoint: no 5xx, OperationOutcomes, nothing stored from a rejected request', () => {
  let t: TestNode;
  let admin: string;
  let asPatient: string;
  const ids = { patient: '', observation: '' };
  const alice = privateKeyToAccount(generatePrivateKey());
  const findings: string[] = [];

  async function attempt(r: RawRequest, kind: 'fhir' | 'oauth' | 'form' = 'fhir'): Promise<RawAnswer> {
    const before = await storedFingerprint(t);
    const answer = await rawRequest(t.fhirUrl, r);
    const label = `${r.method} ${r.path.slice(0, 400)} [${r.headers?.['content-type'] ?? ''}] -> ${answer.status} ${answer.text.slice(0, 200)}`;
    const oversized = r.path.length > 8192 || Buffer.byteLength(r.body ?? '') > 64 * 1024;
    if (answer.status === 0 && !oversized) findings.push(`connection reset: ${label}`);
    if (answer.status >= 500) findings.push(`5xx: ${label} body ${String(r.body ?? '').slice(0, 300)}`);
    if (answer.status >= 400 && answer.status < 500) {
      if (kind === 'fhir' && !isOperationOutcome(answer.json))
        findings.push(`not an OperationOutcome: ${label}`);
      if (kind === 'oauth' && typeof (answer.json as { error?: unknown })?.error !== 'string')
        findings.push(`not an OAuth error: ${label}`);
      const after = await storedFingerprint(t);
      if (JSON.stringify(after) !== JSON.stringify(before))
        findings.push(`stored from a rejected request: ${label} ${JSON.stringify({ before, after })}`);
    }
    return answer;
  }

  /** /healthz status once ready; a busy node may report 503 (indexer behind) for a while. */
  const healthy = async () => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const { status } = await rawRequest(t.fhirUrl, { method: 'GET', path: '/healthz' });
      if (status === 200 || Date.now() > deadline) return status;
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  beforeAll(async () => {
    t = await startTestNode();
    // Long-lived: a large MEDLEDGER_FUZZ_RUNS outlasts the default 5-minute test token.
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds', lifetimeSeconds: 4 * 3600 });
    const created = await rawRequest(t.fhirUrl, {
      method: 'POST',
      path: '/fhir/Patient',
      headers: { authorization: admin, 'content-type': FHIR_JSON },
      body: JSON.stringify({
        ...patient,
        identifier: [{ system: 'urn:medledger:address', value: alice.address.toLowerCase() }],
      }),
    });
    ids.patient = (created.json as { id: string }).id;
    const obs = await rawRequest(t.fhirUrl, {
      method: 'POST',
      path: '/fhir/Observation',
      headers: { authorization: admin, 'content-type': FHIR_JSON },
      body: JSON.stringify(observation(ids.patient)),
    });
    ids.observation = (obs.json as { id: string }).id;
    asPatient = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.cruds',
      lifetimeSeconds: 4 * 3600,
      patient: ids.patient,
      address: alice.address.toLowerCase(),
    });
  }, 120_000);
  afterAll(async () => t?.stop());
  beforeEach(() => {
    findings.length = 0;
  });
  // Never a crash: after every property the node still answers /healthz.
  afterEach(async () => {
    expect(await healthy()).toBe(200);
  }, 90_000);

  const withBody = (method: string, path: string, payload: string | Buffer, type: string, auth = admin) => ({
    method,
    path,
    headers: { authorization: auth, ...(type ? { 'content-type': type } : {}) },
    body: payload,
  });

  it('create, update and patch with generated and mutated resources', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('create', 'update', 'update-new', 'json-patch', 'fhirpath-patch'),
        body(patient),
        body(observation('x')),
        contentType,
        async (route, patientBody, observationBody, type) => {
          if (route === 'create') await attempt(withBody('POST', '/fhir/Patient', patientBody, type));
          if (route === 'update')
            await attempt(withBody('PUT', `/fhir/Observation/${ids.observation}`, observationBody, type));
          if (route === 'update-new')
            await attempt(withBody('PUT', '/fhir/Patient/fuzz-new', patientBody, type));
          if (route === 'json-patch')
            await attempt(
              withBody('PATCH', `/fhir/Patient/${ids.patient}`, patientBody, 'application/json-patch+json'),
            );
          if (route === 'fhirpath-patch')
            await attempt(withBody('PATCH', `/fhir/Patient/${ids.patient}`, observationBody, type));
        },
      ),
      { numRuns: RUNS },
    );
    expect(findings).toEqual([]);
    expect(await healthy()).toBe(200);
  }, 300_000);

  it('JSON Patch operations of any shape', async () => {
    const op = fc.record(
      {
        op: fc.oneof(fc.constantFrom('add', 'remove', 'replace', 'move', 'copy', 'test'), nastyString),
        path: fc.oneof(
          fc.constantFrom('/id', '/meta', '/resourceType', '/name/0/family', '/name/-', '/', '', '/a/b/c/d'),
          nastyString,
        ),
        from: fc.constantFrom('/id', '/name', '/x'),
        value: jsonValue,
      },
      { requiredKeys: ['op'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 4 }), async (ops) => {
        await attempt(
          withBody(
            'PATCH',
            `/fhir/Patient/${ids.patient}`,
            JSON.stringify(ops),
            'application/json-patch+json',
          ),
        );
      }),
      { numRuns: RUNS },
    );
    expect(findings).toEqual([]);
  }, 300_000);

  it('batch and transaction Bundles with mutated entries', async () => {
    const entry = fc.record({
      fullUrl: fc.oneof(fc.constant('urn:uuid:0b8f7b3e-2c2a-4c1e-9d3b-6a1f0e6c1a11'), nastyString),
      resource: fc.oneof(
        mutated(patient),
        mutated(observation('urn:uuid:0b8f7b3e-2c2a-4c1e-9d3b-6a1f0e6c1a11')),
      ),
      request: fc.record({
        method: fc.oneof(fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'GET'), nastyString),
        url: fc.oneof(
          fc.constantFrom('Patient', 'Observation', `Patient/${ids.patient || 'x'}`, ''),
          nastyString,
        ),
      }),
    });
    const bundle = fc.record({
      resourceType: fc.constant('Bundle'),
      type: fc.oneof(fc.constantFrom('transaction', 'batch', 'collection'), nastyString),
      entry: fc.oneof(fc.array(entry, { maxLength: 4 }), jsonValue),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          bundle.map((b) => JSON.stringify(b)),
          mutated({ resourceType: 'Bundle', type: 'transaction', entry: [] }).map((b) => JSON.stringify(b)),
          deeplyNested,
          hostileBytes,
        ),
        async (payload) => {
          const answer = await attempt(withBody('POST', '/fhir', payload, FHIR_JSON));
          // A transaction is all or nothing: a rejected one must not leave some entries stored
          // (checked by attempt); an accepted batch answers 200 with one response per entry.
          if (answer.status === 200)
            expect((answer.json as { resourceType?: string }).resourceType).toBe('Bundle');
        },
      ),
      { numRuns: RUNS },
    );
    expect(findings).toEqual([]);
  }, 300_000);

  it('search, history and read routes with hostile parameters and paths', async () => {
    const path = fc.oneof(
      fc.constantFrom(
        '/fhir/Observation',
        '/fhir/Patient',
        '/fhir/Patient/_search',
        `/fhir/Patient/${ids.patient || 'x'}/$everything`,
        `/fhir/Patient/${ids.patient || 'x'}/Observation`,
        `/fhir/Observation/${ids.observation || 'x'}/_history`,
        '/fhir/_history',
        '/fhir',
        '/fhir/AuditEvent',
        '/fhir/Consent',
        '/fhir/metadata',
        '/fhir/$export',
        '/fhir/Patient/$export',
        '/fhir/Group/x/$export',
      ),
      fc
        .tuple(fc.constantFrom('Patient', 'Observation', 'Nope', '..', '%2e%2e', '%E0%A4%A'), nastyString)
        .map(([type, id]) => `/fhir/${type}/${encode(id)}`),
      fc.constantFrom('/fhir/Patient/%E0%A4%A', '/fhir/%ZZ', '/fhir/Patient/%C0%AF', '/fhir//Patient///'),
    );
    await fc.assert(
      fc.asyncProperty(
        path,
        queryPart,
        fc.constantFrom('GET', 'POST', 'DELETE'),
        fc.constantFrom(admin, asPatient),
        async (p, q, method, auth) => {
          const isSearchPost = method === 'POST' && p.endsWith('_search');
          if (method === 'POST' && !isSearchPost) return;
          if (method === 'DELETE' && !p.startsWith('/fhir/Observation?')) return;
          await attempt({
            method,
            path: isSearchPost ? p : `${p}?${q}`,
            headers: {
              authorization: auth,
              ...(isSearchPost ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
            },
            ...(isSearchPost ? { body: q } : {}),
          });
        },
      ),
      { numRuns: RUNS * 2 },
    );
    expect(findings).toEqual([]);
  }, 300_000);

  it('$grant, $revoke and $consent-typed-data with forged and malformed Parameters', async () => {
    const parameter = fc.record(
      {
        name: fc.oneof(
          fc.constantFrom(
            'grantee',
            'custodian',
            'resourceType',
            'purpose',
            'notBefore',
            'expiry',
            'nonce',
            'deadline',
            'signature',
          ),
          nastyString,
        ),
        valueString: nastyString,
        valueCode: fc.constantFrom('Observation', 'TREAT', 'HRESCH', 'NOPE'),
        valueInteger: fc.oneof(fc.integer(), fc.constant(2 ** 53)),
        valueDateTime: fc.constantFrom('2020-01-01T00:00:00Z', 'never', '9999-12-31T23:59:59Z'),
      },
      { requiredKeys: ['name'] },
    );
    const parameters = fc.record({
      resourceType: fc.oneof(fc.constant('Parameters'), nastyString),
      parameter: fc.oneof(fc.array(parameter, { maxLength: 8 }), jsonValue),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('$grant', '$revoke', '$consent-typed-data'),
        fc.oneof(
          { weight: 4, arbitrary: parameters.map((p) => JSON.stringify(p)) },
          { weight: 1, arbitrary: hostileBytes },
          { weight: 1, arbitrary: deeplyNested },
        ),
        queryPart,
        fc.constantFrom(admin, asPatient),
        fc.constantFrom(ids.patient || 'x', 'no-such-patient'),
        async (operation, payload, q, auth, id) => {
          if (operation === '$consent-typed-data')
            await attempt({
              method: 'GET',
              path: `/fhir/Patient/${id}/${operation}?${q}`,
              headers: { authorization: auth },
            });
          else
            await attempt(
              withBody('POST', `/fhir/Patient/${id}/${operation}?${q}`, payload, FHIR_JSON, auth),
            );
        },
      ),
      { numRuns: RUNS },
    );
    expect(findings).toEqual([]);
  }, 300_000);

  it('$claim, $access-report, AuditEvent search and $proof with hostile input', async () => {
    const claim = fc.record({ claimCode: jsonValue, newAddress: jsonValue, signature: jsonValue });
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('claim', 'report', 'audit', 'proof', 'version-proof'),
        fc.oneof(
          claim.map((c) => JSON.stringify(c)),
          hostileBytes,
          deeplyNested,
          fc.string({ unit: 'binary' }),
        ),
        contentType,
        queryPart,
        nastyString,
        async (route, payload, type, q, id) => {
          const pid = encode(id);
          if (route === 'claim')
            await attempt({
              method: 'POST',
              path: `/fhir/Patient/${ids.patient}/$claim`,
              headers: type ? { 'content-type': type } : {},
              body: payload,
            });
          if (route === 'report')
            await attempt({
              method: 'GET',
              path: `/fhir/Patient/${ids.patient}/$access-report?${q}`,
              headers: { authorization: asPatient },
            });
          if (route === 'audit')
            await attempt({
              method: 'GET',
              path: `/fhir/AuditEvent?${q}`,
              headers: { authorization: asPatient },
            });
          if (route === 'proof')
            await attempt({
              method: 'GET',
              path: `/fhir/AuditEvent/${pid}/$proof`,
              headers: { authorization: admin },
            });
          if (route === 'version-proof')
            await attempt({
              method: 'GET',
              path: `/fhir/Observation/${ids.observation}/_history/${pid}/$proof`,
              headers: { authorization: admin },
            });
        },
      ),
      { numRuns: RUNS },
    );
    expect(findings).toEqual([]);
  }, 300_000);

  it('the token, revocation, introspection, launch and authorize endpoints with garbage forms, assertions and queries', async () => {
    const form = fc
      .dictionary(
        fc.constantFrom(
          'grant_type',
          'client_assertion_type',
          'client_assertion',
          'scope',
          'code',
          'redirect_uri',
          'code_verifier',
          'client_id',
          'refresh_token',
          'token',
          'token_type_hint',
          'patient',
          'encounter',
          'launch',
          'pick',
          'nonce',
        ),
        fc.oneof(
          fc.constantFrom(
            'client_credentials',
            'authorization_code',
            'refresh_token',
            'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
            'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
            'system/*.cruds',
          ),
          nastyString,
        ),
      )
      .map((d) => new URLSearchParams(d).toString());
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(form, fc.string({ unit: 'binary' }), hostileBytes),
        fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain'),
        queryPart,
        async (payload, type, q) => {
          for (const path of ['/auth/token', '/auth/revoke', '/auth/introspect', '/auth/launch']) {
            await attempt(
              { method: 'POST', path, headers: { 'content-type': type }, body: payload },
              'oauth',
            );
          }
          const authorize = await attempt({ method: 'GET', path: `/auth/authorize?${q}` }, 'form');
          expect(authorize.status).toBeLessThan(500);
          const posted = await attempt(
            {
              method: 'POST',
              path: `/auth/authorize?${q}`,
              headers: { 'content-type': type },
              body: payload,
            },
            'form',
          );
          expect(posted.status).toBeLessThan(500);
        },
      ),
      { numRuns: RUNS },
    );
    expect(findings).toEqual([]);
  }, 300_000);

  it('wrong JSON types found by fuzzing are 400s that store nothing (regressions)', async () => {
    for (const body of [
      { ...patient, identifier: { a: 1 } }, // was a 500 in the access decision
      { ...patient, identifier: 'x' },
      { ...patient, identifier: [1] }, // was stored: a primitive where an Identifier belongs
      { ...patient, name: [true] },
      { ...observation('x'), category: [7] },
      { ...patient, extension: [[[[1]]]] },
    ]) {
      const answer = await attempt(
        withBody('POST', `/fhir/${body.resourceType}`, JSON.stringify(body), FHIR_JSON),
      );
      expect(answer.status, JSON.stringify(body)).toBe(400);
    }
    for (const ops of [[{ op: 'add', path: 'no-slash', value: 1 }], [{ op: 'add' }], [null]]) {
      const answer = await attempt(
        withBody('PATCH', `/fhir/Patient/${ids.patient}`, JSON.stringify(ops), 'application/json-patch+json'),
      );
      expect(answer.status, JSON.stringify(ops)).toBe(400); // rfc6902 threw: was a 500
    }
    const nul = await attempt({
      method: 'GET',
      path: '/fhir/Patient/%00',
      headers: { authorization: admin },
    });
    expect(nul.status).toBe(400); // was a database error (500)
    expect(findings).toEqual([]);
  });

  it('oversized bodies are a 413 OperationOutcome on every body-taking route, and the node keeps answering', async () => {
    const huge = Buffer.alloc(17 * 1024 * 1024, 0x61);
    for (const [method, path] of [
      ['POST', '/fhir/Patient'],
      ['PUT', `/fhir/Patient/${ids.patient}`],
      ['POST', '/fhir'],
      ['POST', `/fhir/Patient/${ids.patient}/$grant`],
      ['POST', `/fhir/Patient/${ids.patient}/$claim`],
    ] as const) {
      const answer = await attempt(withBody(method, path, huge, FHIR_JSON));
      expect(answer.status, `${method} ${path}`).toBe(413);
      expect(isOperationOutcome(answer.json)).toBe(true);
    }
    expect(findings).toEqual([]);
    expect(await healthy()).toBe(200);
  }, 120_000);
});
