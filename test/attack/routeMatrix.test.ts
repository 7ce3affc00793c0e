/**
 * Issue 19's authorization matrix, generated from the route table: every route the server has
 * (read off Fastify's own route tree) is either exercised here for every actor or named in
 * {@link NOT_ABOUT_A_PATIENT} with where it is tested, so a new route cannot skip the matrix.
 * Each cell's expected answer is written once in {@link EXPECTED}; every answer is checked
 * against it, every refusal is an OperationOutcome (FHIR) or an error object (portal) carrying
 * none of the patient's data, and every cell leaves an audit event whose basis (for an allowed
 * one) is the one the actor's access rests on.
 *
 * Actors: anonymous; the patient herself; another patient; a clinician with a care relationship
 * (encounter participant); one without; one the patient restricted (revoked); a privacy officer;
 * a registrar; a narrow (`system/Practitioner.rs`) and a wide (`system/*.cruds`) system client;
 * another member with the patient's consent and one without; a disabled user; a revoked client.
 */
import type { Address } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/access/clients.ts';
import { disableUser, REFRESH_MS, revokeClient } from '../../src/access/revocations.ts';
import { createUser } from '../../src/access/users.ts';
import { auditContextOf } from '../../src/audit/AuditContext.ts';
import { readVerifiedAuditEvents } from '../../src/audit/readVerifiedAuditEvents.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

/** Parsed JSON, read loosely by the assertions. */
type Json = ReturnType<typeof JSON.parse>;

const FAMILY = 'Matrixhollow';
const NOTE = 'amber-quill-observation';

const ACTORS = [
  'anonymous',
  'self',
  'otherPatient',
  'carer',
  'stranger',
  'restricted',
  'officer',
  'registrar',
  'narrowSystem',
  'wideSystem',
  'memberWithConsent',
  'memberWithout',
  'disabledUser',
  'revokedClient',
] as const;
type Actor = (typeof ACTORS)[number];

/** Routes the matrix does not exercise: no patient's data behind them, or a proof other than a token. */
const NOT_ABOUT_A_PATIENT: Record<string, string> = {
  'GET /': 'redirect to the portal',
  'GET /healthz': 'public readiness (test/start.test.ts)',
  'GET /fhir': 'the FHIR base: served by the same router as GET /fhir/*',
  'POST /fhir': 'the FHIR base: served by the same router as POST /fhir/',
  'PUT /fhir': 'the FHIR base: refused like PUT /fhir/',
  'PATCH /fhir': 'the FHIR base: refused like PATCH /fhir/',
  'DELETE /fhir': 'the FHIR base: refused like DELETE /fhir/',
  'GET /fhir/': 'the FHIR base without a type (src/fhir/conformance.test.ts)',
  'PUT /fhir/': 'no type: 4xx (src/fhir/httpEdge.test.ts)',
  'PATCH /fhir/': 'no type: 4xx (src/fhir/httpEdge.test.ts)',
  'DELETE /fhir/': 'no type: 4xx (src/fhir/httpEdge.test.ts)',
  'GET /fhir/.well-known/smart-configuration': 'public SMART discovery',
  'GET /.well-known/smart-configuration': 'public SMART discovery',
  'GET /fhir/metadata': 'public CapabilityStatement; writes are 405 (src/fhir/conformance.test.ts)',
  'POST /fhir/metadata': '405',
  'PUT /fhir/metadata': '405',
  'PATCH /fhir/metadata': '405',
  'DELETE /fhir/metadata': '405',
  'POST /fhir/Patient/:id/$claim':
    'no token: the claim code and the new key prove it (test/attack/identityBinding.test.ts)',
  'POST /fhir/Patient/:id/$claim-check':
    'no token: answers only whether a claim code is right, uses nothing up, audited for the patient (src/fhir/identity/claim.test.ts)',
  'POST /fhir/Patient/:id/$change-key':
    'no token: the current and the new key prove it (test/attack/identityBinding.test.ts)',
  'PUT /fhir/Consent/:id': 'Consent is chain-derived: writes refused (src/fhir/consent/consent.test.ts)',
  'PATCH /fhir/Consent/:id': 'Consent is chain-derived: writes refused',
  'DELETE /fhir/Consent/:id': 'Consent is chain-derived: writes refused',
  'GET /fhir/$export-status/:job': "only the job's owner (src/fhir/bulk/bulkExport.test.ts)",
  'DELETE /fhir/$export-status/:job': "only the job's owner (src/fhir/bulk/bulkExport.test.ts)",
  'GET /fhir/$export-file/:job/:name': "only the job's owner (src/fhir/bulk/bulkExport.test.ts)",
  'POST /auth/token': 'the authorization server (src/access/authServer.test.ts)',
  'GET /auth/authorize': 'the authorization server (src/access/authServer.test.ts)',
  'POST /auth/authorize': 'the authorization server (src/access/authServer.test.ts)',
  'GET /portal': 'the portal app (static)',
  'GET /portal/*': 'the portal app (static)',
  'GET /portal/api/config': 'public portal configuration',
  'GET /.well-known/openid-configuration': 'public OpenID discovery (src/access/smartLaunch.test.ts)',
  'GET /auth/jwks': 'public token-signing keys (src/access/smartLaunch.test.ts)',
  'POST /auth/revoke': 'RFC 7009, the token is the proof (src/access/smartLaunch.test.ts)',
  'POST /auth/introspect': 'RFC 7662, client-authenticated (src/access/smartLaunch.test.ts)',
  'POST /auth/launch':
    'an EHR launch context; every read it leads to is decided here (src/access/smartLaunch.test.ts)',
  'POST /exchange/v1/records': 'signed member requests, not tokens (test/exchange)',
  'GET /fhir/Patient/$emergency-lookup': 'the same operation as POST (test/attack/emergencyAccess.test.ts)',
  'PATCH /fhir/*': 'the same decision as PUT (src/fhir/accessMatrix.test.ts)',
  'POST /portal/api/officer/verify': 'officers only, runs verify (test/portal/portal.test.ts)',
  'GET /portal*': 'the portal app (static)',
  'OPTIONS *': 'CORS preflight (test/attack/cors.test.ts)',
};

interface Cell {
  name: string;
  /** The route it exercises, as in the route table. */
  route: string;
  method: string;
  path: () => string;
  body?: () => unknown;
  headers?: Record<string, string>;
  /** A fresh target per actor (a delete). */
  fresh?: boolean;
  /** A batch: a 200's status is its one entry's. */
  perEntry?: boolean;
}

/**
 * The expected answer of every cell, one row per cell, one column per actor (in {@link ACTORS}
 * order). 404 is how a record that exists is refused where saying so would reveal it.
 */
// biome-ignore format: one row per cell, one column per actor, aligned
const EXPECTED: Record<string, number[]> = {
  //                   anon self othr carer strg rstr offc regs narw wide mbrC mbrN dis  rvk
  read:               [401, 200, 404, 200, 404, 404, 404, 404, 403, 200, 200, 404, 401, 401],
  vread:              [401, 200, 404, 200, 404, 404, 404, 404, 403, 200, 200, 404, 401, 401],
  history:            [401, 200, 404, 200, 404, 404, 404, 404, 403, 200, 200, 404, 401, 401],
  search:             [401, 200, 404, 200, 403, 403, 403, 403, 403, 200, 200, 403, 401, 401],
  compartment:        [401, 200, 404, 200, 403, 403, 403, 403, 403, 200, 200, 403, 401, 401],
  'patient read':     [401, 200, 404, 200, 404, 404, 404, 200, 403, 200, 200, 404, 401, 401],
  // A registrar's $everything holds the Patient alone (checked below: nothing clinical).
  everything:         [401, 200, 404, 200, 404, 404, 404, 200, 403, 200, 200, 404, 401, 401],
  // Records are written by the institution that holds them: its clinicians under the treatment
  // policy and its systems; the patient only what she authors; a consent is for reading.
  create:             [401, 201, 403, 201, 403, 403, 403, 403, 403, 201, 403, 403, 401, 401],
  update:             [401, 403, 404, 200, 404, 404, 404, 404, 403, 200, 404, 404, 401, 401],
  delete:             [401, 403, 404, 200, 404, 404, 404, 404, 403, 200, 404, 404, 401, 401],
  // A batch is 200 for every signed-in caller; the status here is its entry's, which answers
  // exactly as the same request alone does (the read row). A transaction is atomic, so it is
  // for clients whose scope allows it: this institution's systems.
  batch:              [401, 200, 404, 200, 404, 404, 404, 404, 403, 200, 200, 404, 401, 401],
  transaction:        [401, 403, 403, 403, 403, 403, 403, 403, 403, 200, 403, 403, 401, 401],
  consents:           [401, 200, 404, 200, 403, 403, 403, 403, 403, 200, 200, 403, 401, 401],
  'patient consents': [401, 200, 404, 200, 403, 403, 403, 403, 403, 200, 200, 403, 401, 401],
  'consent read':     [401, 200, 404, 200, 403, 403, 403, 403, 403, 200, 200, 403, 401, 401],
  // The message to sign: for whoever reads the patient's consents (the signature is the proof).
  'typed data':       [401, 200, 404, 200, 403, 403, 403, 403, 403, 200, 200, 403, 401, 401],
  // Relaying a signed change: the unsigned body here is a 400 for whoever may relay.
  grant:              [401, 400, 404, 400, 403, 403, 403, 403, 403, 400, 403, 403, 401, 401],
  revoke:             [401, 400, 404, 400, 403, 403, 403, 403, 403, 400, 403, 403, 401, 401],
  // Appointing a delegate: only the patient signs it (the unsigned body here is a 400 for whoever may relay).
  delegate:           [401, 400, 404, 400, 403, 403, 403, 403, 403, 400, 403, 403, 401, 401],
  'delegate typed data': [401, 200, 404, 200, 403, 403, 403, 403, 403, 200, 200, 403, 401, 401],
  'access report':    [401, 200, 404, 403, 403, 403, 200, 403, 403, 200, 403, 403, 401, 401],
  'patient audit':    [401, 200, 404, 403, 403, 403, 200, 403, 403, 200, 403, 403, 401, 401],
  'audit search':     [401, 200, 404, 403, 403, 403, 200, 403, 403, 200, 403, 403, 401, 401],
  'audit log':        [401, 403, 403, 403, 403, 403, 200, 403, 403, 200, 403, 403, 401, 401],
  // Patients get the proof of each of their events inside $access-report.
  'audit proof':      [401, 403, 403, 403, 403, 403, 200, 403, 403, 200, 403, 403, 401, 401],
  'record proof':     [401, 200, 404, 200, 404, 404, 404, 404, 403, 200, 200, 404, 401, 401],
  // A kick-off is accepted for any caller; the job exports only what each resource's decision allows.
  'patient export':   [401, 202, 202, 202, 202, 202, 202, 202, 202, 202, 202, 202, 401, 401],
  'system export':    [401, 202, 202, 202, 202, 202, 202, 202, 202, 202, 202, 202, 401, 401],
  'group export':     [401, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 401, 401],
  'emergency lookup': [401, 403, 403, 200, 200, 200, 403, 403, 403, 403, 403, 403, 401, 401],
  'who has access':   [401, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401],
  'record proofs':    [401, 200, 404, 200, 404, 404, 404, 404, 403, 200, 200, 404, 401, 401],
  restrict:           [401, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401],
  'lift restriction': [401, 200, 404, 403, 403, 403, 403, 403, 403, 403, 403, 403, 401, 401],
  'acting for':       [401, 200, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 401, 401],
  'my patients':      [401, 403, 403, 200, 200, 200, 403, 403, 403, 403, 403, 403, 401, 401],
  practitioners:      [401, 200, 200, 200, 200, 200, 200, 403, 403, 403, 403, 403, 401, 401],
  me:                 [401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
  'access review':    [401, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403, 403, 401, 401],
  'officer overview': [401, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403, 403, 401, 401],
  'officer review':   [401, 403, 403, 403, 403, 403, 400, 403, 403, 403, 403, 403, 401, 401],
  'chain rpc':        [401, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 401, 401],
};

/** The basis an allowed FHIR decision of each actor rests on (portal routes record theirs too). */
const BASIS: Partial<Record<Actor, string>> = {
  self: 'own-record',
  carer: 'treatment-relationship',
  wideSystem: 'treatment-relationship',
  memberWithConsent: 'grant',
  officer: 'audit-review',
  registrar: 'registration',
};
/** Cells whose allowed answer rests on another basis than the actor's usual one. */
const BASIS_OF_CELL: Record<string, string | undefined> = {
  history: 'per-version',
  batch: undefined, // each entry is its own decision and event
  transaction: undefined, // each entry is its own decision and event
  'emergency lookup': 'emergency-lookup',
  'officer review': undefined,
  me: undefined,
  'chain rpc': undefined,
  practitioners: undefined,
  'my patients': undefined,
  'acting for': undefined,
  'officer overview': undefined,
  'wideSystem:audit log': 'audit-review',
  'wideSystem:access report': 'audit-review',
  'wideSystem:patient audit': 'audit-review',
  'wideSystem:audit search': 'audit-review',
  'wideSystem:audit proof': 'audit-review',
  'patient export': undefined, // the job's own events decide each resource
  'system export': undefined,
  'group export': undefined,
};
/** Routes that leave no audit event by design (no patient's data, no decision: docs/portal.md). */
const UNAUDITED = new Set(['me', 'chain rpc']);

/** Every route of the running server, `METHOD /path`, from Fastify's own route tree (HEAD left out). */
function routeTable(tree: string): Set<string> {
  const routes = new Set<string>();
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^((?:│ {3}| {4})*)[├└]── (.+?) \(([A-Z, ]+)\)$/.exec(line);
    if (!m) continue;
    const depth = (m[1] as string).length / 4;
    stack.length = depth;
    const path = (depth === 0 ? '' : (stack[depth - 1] as string)) + (m[2] as string);
    stack[depth] = path;
    for (const method of (m[3] as string).split(', ')) if (method !== 'HEAD') routes.add(`${method} ${path}`);
  }
  return routes;
}

describe('the authorization matrix, generated from the route table', () => {
  let t: TestNode;
  let base = '';
  let admin = '';
  const alice = privateKeyToAccount(generatePrivateKey());
  const bob = privateKeyToAccount(generatePrivateKey());
  const carer = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  const restricted = privateKeyToAccount(generatePrivateKey());
  const member = privateKeyToAccount(generatePrivateKey());
  const outsider = privateKeyToAccount(generatePrivateKey());
  const ids = {
    alice: '',
    bob: '',
    obs: '',
    carer: '',
    restricted: '',
    consent: '',
    auditEvent: '',
    group: '',
  };
  const tokens = {} as Record<Actor, string | undefined>;
  const results: Record<string, Record<Actor, number>> = {};

  const cells = (): Cell[] => {
    const obs = () => `Observation/${ids.obs}`;
    const observation = (id?: string) => ({
      resourceType: 'Observation',
      ...(id ? { id } : {}),
      status: 'final',
      code: { text: NOTE },
      subject: { reference: `Patient/${ids.alice}` },
      valueQuantity: { value: 7, unit: 'mmol/L' },
    });
    const fhir = (name: string, method: string, path: () => string, rest: Partial<Cell> = {}): Cell => ({
      name,
      route: rest.route ?? `${method} /fhir/*`,
      method,
      path: () => `/fhir/${path()}`,
      ...rest,
    });
    const portal = (
      name: string,
      method: string,
      route: string,
      path: () => string,
      body?: () => unknown,
    ): Cell => ({
      name,
      route: `${method} /portal/api/${route}`,
      method,
      path: () => `/portal/api/${path()}`,
      ...(body ? { body } : {}),
    });
    const signed = {
      resourceType: 'Parameters',
      parameter: [{ name: 'signature', valueString: `0x${'11'.repeat(65)}` }],
    };
    return [
      fhir('read', 'GET', obs),
      fhir('vread', 'GET', () => `${obs()}/_history/1`),
      fhir('history', 'GET', () => `${obs()}/_history`),
      fhir('search', 'GET', () => `Observation?patient=${ids.alice}`),
      fhir('compartment', 'GET', () => `Patient/${ids.alice}/Observation`),
      fhir('patient read', 'GET', () => `Patient/${ids.alice}`),
      fhir('everything', 'GET', () => `Patient/${ids.alice}/$everything`),
      fhir('create', 'POST', () => 'Observation', { body: () => observation() }),
      fhir('update', 'PUT', obs, { body: () => observation(ids.obs) }),
      fhir('delete', 'DELETE', obs, { fresh: true }),
      fhir('batch', 'POST', () => '', {
        route: 'POST /fhir/',
        perEntry: true,
        body: () => ({
          resourceType: 'Bundle',
          type: 'batch',
          entry: [{ request: { method: 'GET', url: obs() } }],
        }),
      }),
      fhir('transaction', 'POST', () => '', {
        route: 'POST /fhir/',
        body: () => ({
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [{ request: { method: 'GET', url: obs() } }],
        }),
      }),
      fhir('consents', 'GET', () => `Consent?patient=${ids.alice}`, { route: 'GET /fhir/Consent' }),
      fhir('patient consents', 'GET', () => `Patient/${ids.alice}/Consent`, {
        route: 'GET /fhir/Patient/:id/Consent',
      }),
      fhir('consent read', 'GET', () => `Consent/${ids.consent}`, { route: 'GET /fhir/Consent/:id' }),
      fhir(
        'typed data',
        'GET',
        () =>
          `Patient/${ids.alice}/$consent-typed-data?kind=grant&grantee=${member.address}&purpose=TREAT&resourceType=Observation`,
        { route: 'GET /fhir/Patient/:id/$consent-typed-data' },
      ),
      fhir('grant', 'POST', () => `Patient/${ids.alice}/$grant`, {
        route: 'POST /fhir/Patient/:id/$grant',
        body: () => signed,
      }),
      fhir('revoke', 'POST', () => `Patient/${ids.alice}/$revoke`, {
        route: 'POST /fhir/Patient/:id/$revoke',
        body: () => signed,
      }),
      fhir('delegate', 'POST', () => `Patient/${ids.alice}/$delegate`, {
        route: 'POST /fhir/Patient/:id/$delegate',
        body: () => signed,
      }),
      fhir(
        'delegate typed data',
        'GET',
        () => `Patient/${ids.alice}/$delegate-typed-data?delegate=${member.address}&until=0`,
        { route: 'GET /fhir/Patient/:id/$delegate-typed-data' },
      ),
      fhir('access report', 'GET', () => `Patient/${ids.alice}/$access-report`, {
        route: 'GET /fhir/Patient/:id/$access-report',
      }),
      fhir('patient audit', 'GET', () => `Patient/${ids.alice}/AuditEvent`, {
        route: 'GET /fhir/Patient/:id/AuditEvent',
      }),
      fhir('audit search', 'GET', () => `AuditEvent?patient=Patient/${ids.alice}`, {
        route: 'GET /fhir/AuditEvent',
      }),
      fhir('audit log', 'GET', () => 'AuditEvent', { route: 'GET /fhir/AuditEvent' }),
      fhir('audit proof', 'GET', () => `AuditEvent/${ids.auditEvent}/$proof`, {
        route: 'GET /fhir/AuditEvent/:id/$proof',
      }),
      fhir('record proof', 'GET', () => `${obs()}/_history/1/$proof`, {
        route: 'GET /fhir/:type/:id/_history/:vid/$proof',
      }),
      fhir('patient export', 'GET', () => 'Patient/$export', {
        route: 'GET /fhir/Patient/$export',
        headers: { prefer: 'respond-async' },
      }),
      fhir('system export', 'GET', () => '$export', {
        route: 'GET /fhir/$export',
        headers: { prefer: 'respond-async' },
      }),
      fhir('group export', 'GET', () => 'Group/no-such-group/$export', {
        route: 'GET /fhir/Group/:id/$export',
        headers: { prefer: 'respond-async' },
      }),
      fhir('emergency lookup', 'POST', () => 'Patient/$emergency-lookup', {
        route: 'POST /fhir/Patient/$emergency-lookup',
        headers: { 'x-purpose-of-use': 'ETREAT', 'x-break-glass-reason': 'found unconscious, no id on them' },
        body: () => ({
          resourceType: 'Parameters',
          parameter: [
            { name: 'family', valueString: FAMILY },
            { name: 'birthdate', valueString: '1960-03-04' },
          ],
        }),
      }),
      portal(
        'who has access',
        'GET',
        'patients/:id/who-has-access',
        () => `patients/${ids.alice}/who-has-access`,
      ),
      portal(
        'record proofs',
        'POST',
        'patients/:id/record-proofs',
        () => `patients/${ids.alice}/record-proofs`,
        () => ({ versions: [`${obs()}/_history/1`] }),
      ),
      portal(
        'restrict',
        'POST',
        'patients/:id/restrictions',
        () => `patients/${ids.alice}/restrictions`,
        () => ({ practitioner: 'Practitioner/nobody' }),
      ),
      portal(
        'lift restriction',
        'DELETE',
        'patients/:id/restrictions/:practitioner',
        () => `patients/${ids.alice}/restrictions/nobody`,
      ),
      portal('acting for', 'GET', 'acting-for', () => 'acting-for'),
      portal('my patients', 'GET', 'my-patients', () => 'my-patients'),
      portal('practitioners', 'GET', 'practitioners', () => 'practitioners'),
      portal('me', 'GET', 'me', () => 'me'),
      portal(
        'access review',
        'GET',
        'officer/access-review/:id',
        () => `officer/access-review/${ids.auditEvent}`,
      ),
      portal('officer overview', 'GET', 'officer/overview', () => 'officer/overview'),
      portal(
        'officer review',
        'POST',
        'officer/break-glass/:txHash/review',
        () => `officer/break-glass/0x${'ab'.repeat(32)}/review`,
        () => ({ outcome: 'maybe' }),
      ),
      portal(
        'chain rpc',
        'POST',
        'chain/rpc',
        () => 'chain/rpc',
        () => ({ jsonrpc: '2.0', id: 1, method: 'eth_blockNumber', params: [] }),
      ),
    ];
  };

  beforeAll(async () => {
    t = await startTestNode();
    base = t.fhirUrl.replace(/\/fhir$/, '');
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const patient = (who: typeof alice, family: string) => ({
      resourceType: 'Patient',
      name: [{ family, given: ['Ann'] }],
      birthDate: '1960-03-04',
      identifier: [{ system: 'urn:medledger:address', value: who.address.toLowerCase() }],
    });
    ids.alice = await t.create(patient(alice, FAMILY), admin);
    ids.bob = await t.create(patient(bob, 'Otherfield'), admin);
    ids.carer = await t.create({ resourceType: 'Practitioner', name: [{ family: 'Carer' }] }, admin);
    ids.restricted = await t.create(
      { resourceType: 'Practitioner', name: [{ family: 'Restricted' }] },
      admin,
    );
    ids.obs = await t.create(
      {
        resourceType: 'Observation',
        status: 'final',
        code: { text: NOTE },
        subject: { reference: `Patient/${ids.alice}` },
        valueQuantity: { value: 7, unit: 'mmol/L' },
      },
      admin,
    );
    await t.create(
      {
        resourceType: 'Encounter',
        status: 'in-progress',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
        subject: { reference: `Patient/${ids.alice}` },
        participant: [
          { individual: { reference: `Practitioner/${ids.carer}` } },
          { individual: { reference: `Practitioner/${ids.restricted}` } },
        ],
      },
      admin,
    );
    // Alice consents for another member, and restricts one of her clinicians.
    await t.grant(alice, member.address as Address, {
      resourceTypes: ['Observation', 'Patient', 'Consent'],
      purposes: ['TREAT'],
    });
    await t.grant(alice, restricted.address as Address, {
      resourceTypes: ['Observation'],
      purposes: ['TREAT'],
    });
    await t.revoke(alice, restricted.address as Address);
    const consents = await fetch(`${t.fhirUrl}/Consent?patient=${ids.alice}&status=active`, {
      headers: { authorization: admin },
    });
    ids.consent = ((await consents.json()) as Json).entry[0].resource.id;
    await t.node.audit.flush();
    const [event] = await readVerifiedAuditEvents(
      auditContextOf(t.node),
      '(e.patient_index IS NOT NULL)',
      'ORDER BY e.seq DESC LIMIT 1',
      [],
    );
    ids.auditEvent = String(event?.row.seq);

    const practitioner = (who: typeof carer, username: string, fhirId: string) =>
      t.bearer({
        kind: 'practitioner',
        scope: 'user/*.cruds',
        subject: username,
        clientId: `client-${username}`,
        fhirUser: `Practitioner/${fhirId}`,
        address: who.address.toLowerCase(),
      });
    await createUser(t.node.db, {
      username: 'dr-disabled',
      password: 'correct horse battery',
      role: 'practitioner',
    });
    await createClient(t.node.db, {
      kind: 'public',
      name: 'revoked app',
      scopes: 'system/*.cruds',
      redirectUris: ['http://127.0.0.1/cb'],
      clientId: 'revoked-app',
    });
    Object.assign(tokens, {
      anonymous: undefined,
      self: await t.bearer({
        kind: 'patient',
        scope: 'patient/*.cruds',
        patient: ids.alice,
        clientId: 'client-self',
        address: alice.address.toLowerCase(),
      }),
      otherPatient: await t.bearer({
        kind: 'patient',
        scope: 'patient/*.cruds',
        patient: ids.bob,
        clientId: 'client-bob',
      }),
      carer: await practitioner(carer, 'dr-carer', ids.carer),
      stranger: await practitioner(stranger, 'dr-stranger', 'stranger'),
      restricted: await practitioner(restricted, 'dr-restricted', ids.restricted),
      officer: await t.bearer({
        kind: 'officer',
        scope: 'user/*.cruds',
        subject: 'po',
        clientId: 'client-officer',
      }),
      registrar: await t.bearer({
        kind: 'registrar',
        scope: 'user/*.cruds',
        subject: 'desk',
        clientId: 'client-registrar',
      }),
      narrowSystem: await t.bearer({
        kind: 'system',
        scope: 'system/Practitioner.rs',
        clientId: 'client-narrow',
      }),
      wideSystem: await t.bearer({ kind: 'system', scope: 'system/*.cruds', clientId: 'client-wide' }),
      memberWithConsent: await t.bearer({
        kind: 'system',
        scope: 'system/*.cruds',
        address: member.address.toLowerCase(),
        internal: false,
        clientId: 'client-member',
      }),
      memberWithout: await t.bearer({
        kind: 'system',
        scope: 'system/*.cruds',
        address: outsider.address.toLowerCase(),
        internal: false,
        clientId: 'client-outsider',
      }),
      disabledUser: await practitioner(carer, 'dr-disabled', ids.carer),
      revokedClient: await t.bearer({ kind: 'system', scope: 'system/*.cruds', clientId: 'revoked-app' }),
    });
    await new Promise((r) => setTimeout(r, 1100)); // tokens issued strictly before the revocations
    await disableUser(t.node.db, 'dr-disabled');
    await revokeClient(t.node.db, 'revoked-app');
    await new Promise((r) => setTimeout(r, 2 * REFRESH_MS));
  }, 180_000);
  afterAll(async () => t?.stop());

  it('every route of the server is in the matrix or named with where it is tested', () => {
    const table = routeTable(t.app.printRoutes({ commonPrefix: false }));
    expect(table.size).toBeGreaterThan(40);
    const covered = new Set(cells().map((c) => c.route));
    const missing = [...table].filter((r) => !covered.has(r) && NOT_ABOUT_A_PATIENT[r] === undefined);
    expect(missing, 'routes without a row in the matrix').toEqual([]);
    for (const c of cells()) expect(table.has(c.route), `${c.name}: ${c.route} is a route`).toBe(true);
    expect(Object.keys(EXPECTED).sort()).toEqual(
      cells()
        .map((c) => c.name)
        .sort(),
    );
  });

  it('every cell answers as the table says, leaks nothing when refused, and is audited with its basis', async () => {
    const ctx = auditContextOf(t.node);
    const mismatches: string[] = [];
    for (const cell of cells()) {
      results[cell.name] = {} as Record<Actor, number>;
      for (const [i, actor] of ACTORS.entries()) {
        let path = cell.path();
        if (cell.fresh) {
          const id = await t.create(
            {
              resourceType: 'Observation',
              status: 'final',
              code: { text: NOTE },
              subject: { reference: `Patient/${ids.alice}` },
            },
            admin,
          );
          path = path.replace(ids.obs, id);
        }
        await t.node.audit.flush();
        const [before] = await t.node.db.query<{ seq: string | null }>(
          'SELECT max(seq)::text AS seq FROM audit_events',
        );
        const token = tokens[actor];
        const body = cell.body?.();
        const response = await fetch(`${base}${path}`, {
          method: cell.method,
          headers: {
            ...(token ? { authorization: token } : {}),
            ...(cell.headers ?? {}),
            ...(body === undefined
              ? {}
              : {
                  'content-type': path.startsWith('/portal/') ? 'application/json' : 'application/fhir+json',
                }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const text = await response.text();
        const label = `${cell.name} × ${actor} (${cell.method} ${path})`;
        const entry =
          cell.perEntry && response.status === 200
            ? (JSON.parse(text) as { entry: { response: { status: string; outcome?: Json } }[] }).entry[0]
            : undefined;
        const status = entry ? Number(entry.response.status) : response.status;
        results[cell.name]![actor] = status;
        const expected = EXPECTED[cell.name]?.[i];
        if (status !== expected)
          mismatches.push(`${label}: ${status}, expected ${expected}: ${text.slice(0, 160)}`);
        // What a registrar is answered never holds a clinical record, whatever the status.
        if (actor === 'registrar') expect(text, label).not.toContain(NOTE);
        if (status >= 400) {
          expect(text, label).not.toContain(NOTE);
          expect(text, label).not.toContain('mmol/L');
          if (!path.startsWith('/portal/'))
            expect((entry ? entry.response.outcome : JSON.parse(text))?.resourceType, label).toBe(
              'OperationOutcome',
            );
        }
        await t.node.audit.flush();
        if (UNAUDITED.has(cell.name)) continue;
        const events = await readVerifiedAuditEvents(ctx, 'e.seq > $1', 'ORDER BY e.seq', [
          before?.seq ?? '0',
        ]);
        if (events.length === 0) {
          mismatches.push(`${label}: no audit event`);
          continue;
        }
        if (status >= 200 && status < 300) {
          const key = `${actor}:${cell.name}`;
          const expectedBasis =
            key in BASIS_OF_CELL
              ? BASIS_OF_CELL[key]
              : cell.name in BASIS_OF_CELL
                ? BASIS_OF_CELL[cell.name]
                : BASIS[actor];
          if (expectedBasis === undefined) continue;
          const bases = events.map(({ resource }) => {
            const decision = (resource.extension as Json[] | undefined)?.find((e) =>
              e.url.endsWith('/consent-decision'),
            );
            return decision?.extension?.find((e: Json) => e.url === 'basis')?.valueCode;
          });
          if (!bases.includes(expectedBasis))
            mismatches.push(`${label}: audited bases ${bases.join(',')}, expected ${expectedBasis}`);
        }
      }
    }
    expect(mismatches).toEqual([]);
  }, 600_000);
});
