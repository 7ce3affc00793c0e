/**
 * Issue 20, SMART App Launch beyond the standalone code flow: OpenID Connect id_tokens, refresh
 * tokens with rotation, revocation and introspection, confidential asymmetric apps in the code
 * flow, EHR launch, and authorize errors redirected to the app.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { createLocalJWKSet, decodeJwt, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCreateCommand, generateClientKey } from '../cli/commands/clientCreate.ts';
import { launchCreateCommand } from '../cli/commands/launchCreate.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import type { Db } from '../store/db.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { accessTokensFor } from './accessTokensFor.ts';
import { sameFhirBase } from './authorizeRequest.ts';
import { createClient } from './clients.ts';
import type { PatientPicker } from './PatientPicker.ts';
import { registerAuthRoutes } from './registerAuthRoutes.ts';
import { disableUser, enableUser, revokeClient } from './revocations.ts';
import { createUser } from './users.ts';

const PUBLIC_URL = 'https://node-a.example';
const FHIR_BASE = `${PUBLIC_URL}/fhir`;
const TOKEN_ENDPOINT = `${PUBLIC_URL}/auth/token`;
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const REDIRECT = 'https://app.example/callback';
const PASSWORD = 'correct horse battery';

const form = (fields: Record<string, string | undefined>) =>
  new URLSearchParams(
    Object.entries(fields).filter((e): e is [string, string] => e[1] !== undefined),
  ).toString();
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };

const pkce = () => {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
};

async function signAssertion(privateJwk: JWK, clientId: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES384', kid: privateJwk.kid ?? '', typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(TOKEN_ENDPOINT)
    .setIssuedAt(now)
    .setExpirationTime(now + 240)
    .setJti(randomUUID())
    .sign(await importJWK(privateJwk, 'ES384'));
}

describe.each(testDatabases)('SMART App Launch features on $name', ({ open }) => {
  let db: Db;
  let dataDir: string;
  let ctx: NodeContext;
  let app: FastifyInstance;
  let backend: { clientId: string; privateJwk: JWK };
  let picker: PatientPicker | undefined;

  beforeAll(async () => {
    db = await open();
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-smart-'));
    ctx = {
      db,
      config: { publicUrl: PUBLIC_URL, dataDir },
      identity: { account: { address: '0x00000000000000000000000000000000000000aa' } },
    } as unknown as NodeContext;
    app = Fastify();
    await registerAuthRoutes(app, ctx, { rateLimitPerMinute: 100_000, patientPicker: () => picker });
    await app.ready();
    await createUser(db, { username: 'alice', password: PASSWORD, role: 'patient', fhirId: 'pat-1' });
    await createUser(db, { username: 'dr-eve', password: PASSWORD, role: 'practitioner', fhirId: 'prac-1' });
    await createUser(db, { username: 'dr-mal', password: PASSWORD, role: 'practitioner', fhirId: 'prac-2' });
    backend = await createBackend('system/*.rs');
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function createBackend(scopes: string, redirectUris: string[] = []) {
    const { privateJwk, publicJwk } = await generateClientKey('ES384');
    const client = await createClient(db, {
      kind: 'backend',
      name: 'confidential',
      scopes,
      jwks: { keys: [publicJwk] },
      redirectUris,
    });
    return { clientId: client.clientId, privateJwk };
  }

  const createPublic = async (scopes: string) =>
    (await createClient(db, { kind: 'public', name: 'app', scopes, redirectUris: [REDIRECT] })).clientId;

  const post = (url: string, fields: Record<string, string | undefined>) =>
    app.inject({ method: 'POST', url, headers: formHeaders, payload: form(fields) });

  interface Login {
    clientId: string;
    scope: string;
    username?: string;
    nonce?: string;
    launch?: string;
    aud?: string;
  }

  /** The authorize redirect after logging in (or the error redirect before the form). */
  async function authorize(login: Login, challenge: string): Promise<URL> {
    const query = {
      response_type: 'code',
      client_id: login.clientId,
      redirect_uri: REDIRECT,
      scope: login.scope,
      state: 'st-1',
      code_challenge: challenge,
      code_challenge_method: 'S256',
      aud: login.aud ?? FHIR_BASE,
      nonce: login.nonce,
      launch: login.launch,
    };
    const page = await app.inject({ method: 'GET', url: `/auth/authorize?${form(query)}` });
    if (page.statusCode === 302) return new URL(page.headers.location as string);
    expect(page.statusCode).toBe(200);
    const done = await post('/auth/authorize', {
      ...query,
      username: login.username ?? 'alice',
      password: PASSWORD,
    });
    expect(done.statusCode).toBe(302);
    return new URL(done.headers.location as string);
  }

  /** Logs in and redeems the code: the token response. */
  async function tokensFor(login: Login, clientAuth?: Record<string, string>) {
    const { verifier, challenge } = pkce();
    const location = await authorize(login, challenge);
    expect(location.searchParams.get('error')).toBeNull();
    const response = await post('/auth/token', {
      grant_type: 'authorization_code',
      code: location.searchParams.get('code')!,
      redirect_uri: REDIRECT,
      code_verifier: verifier,
      ...(clientAuth ?? { client_id: login.clientId }),
    });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Record<string, string>;
  }

  const refresh = (clientId: string, refreshToken: string, scope?: string) =>
    post('/auth/token', {
      grant_type: 'refresh_token',
      client_id: clientId,
      refresh_token: refreshToken,
      scope,
    });

  const introspect = async (token: string) =>
    post('/auth/introspect', {
      token,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: await signAssertion(backend.privateJwk, backend.clientId),
    });

  describe('discovery', () => {
    it('states every supported capability, scope, auth method and endpoint', async () => {
      const smart = (await app.inject({ method: 'GET', url: '/.well-known/smart-configuration' })).json();
      expect(smart.token_endpoint_auth_methods_supported).toEqual(['private_key_jwt', 'none']);
      expect(smart.grant_types_supported).toContain('refresh_token');
      expect(smart.revocation_endpoint).toBe(`${PUBLIC_URL}/auth/revoke`);
      expect(smart.introspection_endpoint).toBe(`${PUBLIC_URL}/auth/introspect`);
      expect(smart.jwks_uri).toBe(`${PUBLIC_URL}/auth/jwks`);
      expect(smart.scopes_supported).toEqual(
        expect.arrayContaining(['openid', 'fhirUser', 'launch', 'offline_access', 'online_access']),
      );
      expect(smart.capabilities).toEqual(
        expect.arrayContaining([
          'sso-openid-connect',
          'permission-offline',
          'permission-online',
          'launch-ehr',
          'context-ehr-patient',
          'client-confidential-asymmetric',
        ]),
      );
      const oidc = (await app.inject({ method: 'GET', url: '/.well-known/openid-configuration' })).json();
      expect(oidc).toMatchObject({
        issuer: PUBLIC_URL,
        jwks_uri: `${PUBLIC_URL}/auth/jwks`,
        id_token_signing_alg_values_supported: ['ES256'],
      });
      const jwks = (await app.inject({ method: 'GET', url: '/auth/jwks' })).json();
      expect(jwks.keys).toHaveLength(1);
      expect(jwks.keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(jwks.keys[0]).not.toHaveProperty('d');
    });
  });

  describe('OpenID Connect', () => {
    it('openid fhirUser: an id_token signed with the published key, for this client, with the nonce', async () => {
      const clientId = await createPublic('patient/*.rs');
      const body = await tokensFor({ clientId, scope: 'patient/*.rs openid fhirUser', nonce: 'n-0S6' });
      expect(body.scope).toBe('patient/*.rs openid fhirUser');
      const jwks = (await app.inject({ method: 'GET', url: '/auth/jwks' })).json();
      const { payload, protectedHeader } = await jwtVerify(body.id_token!, createLocalJWKSet(jwks), {
        issuer: PUBLIC_URL,
        audience: clientId,
      });
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload).toMatchObject({ sub: 'alice', nonce: 'n-0S6', fhirUser: `${FHIR_BASE}/Patient/pat-1` });
      const now = Math.floor(Date.now() / 1000);
      expect(payload.iat).toBeLessThanOrEqual(now + 1);
      expect(payload.exp).toBeGreaterThan(now + 3000);
      // The access token is no id_token: its audience is the FHIR server.
      expect(decodeJwt(body.access_token!).aud).toBe(FHIR_BASE);
    });

    it('openid without fhirUser leaves the claim out; no openid, no id_token', async () => {
      const clientId = await createPublic('user/*.rs');
      const withOpenid = await tokensFor({ clientId, scope: 'user/*.rs openid', username: 'dr-eve' });
      expect(decodeJwt(withOpenid.id_token!)).not.toHaveProperty('fhirUser');
      expect(decodeJwt(withOpenid.id_token!)).not.toHaveProperty('nonce');
      const without = await tokensFor({ clientId, scope: 'user/*.rs', username: 'dr-eve' });
      expect(without).not.toHaveProperty('id_token');
    });
  });

  describe('refresh tokens', () => {
    it('offline_access: an opaque token, stored hashed, rotated on every use', async () => {
      const clientId = await createPublic('patient/*.rs offline_access');
      const first = await tokensFor({ clientId, scope: 'patient/*.rs offline_access openid fhirUser' });
      expect(first.refresh_token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const rows = await db.query<{ token_hash: string }>(
        'SELECT token_hash FROM access_refresh_tokens WHERE client_id = $1',
        [clientId],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.token_hash).not.toContain(first.refresh_token);
      const second = await refresh(clientId, first.refresh_token!);
      expect(second.statusCode, second.body).toBe(200);
      const body = second.json();
      expect(body).toMatchObject({ token_type: 'Bearer', patient: 'pat-1', expires_in: 3600 });
      expect(body.refresh_token).not.toBe(first.refresh_token);
      expect(decodeJwt(body.id_token).fhirUser).toBe(`${FHIR_BASE}/Patient/pat-1`);
      const principal = await (await accessTokensFor(ctx)).verify(body.access_token);
      expect(principal).toMatchObject({ kind: 'patient', patient: 'pat-1', clientId });
      // The spent token is dead; the new one works.
      const spent = await refresh(clientId, first.refresh_token!);
      expect(spent.statusCode).toBe(400);
      expect(spent.json().error).toBe('invalid_grant');
    });

    it('a public client may refresh without client_id (as fhirclient does); one with keys may not', async () => {
      const clientId = await createPublic('patient/*.rs offline_access');
      const first = await tokensFor({ clientId, scope: 'patient/*.rs offline_access' });
      const unnamed = await post('/auth/token', {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      });
      expect(unnamed.statusCode, unnamed.body).toBe(200);
      // The spent token, unnamed too, is a reuse: the family dies.
      const reused = await post('/auth/token', {
        grant_type: 'refresh_token',
        refresh_token: first.refresh_token,
      });
      expect(reused.json().error).toBe('invalid_grant');
      const next = await post('/auth/token', {
        grant_type: 'refresh_token',
        refresh_token: unnamed.json().refresh_token,
      });
      expect(next.json().error).toBe('invalid_grant');
      const unknown = await post('/auth/token', {
        grant_type: 'refresh_token',
        refresh_token: 'no-such-token',
      });
      expect(unknown.statusCode).toBe(400);
      expect(unknown.json().error).toBe('invalid_grant');
      const confidential = await createBackend('user/*.rs offline_access', [REDIRECT]);
      const body = await tokensFor(
        { clientId: confidential.clientId, scope: 'user/*.rs offline_access', username: 'dr-eve' },
        {
          client_assertion_type: CLIENT_ASSERTION_TYPE,
          client_assertion: await signAssertion(confidential.privateJwk, confidential.clientId),
        },
      );
      const withoutKey = await post('/auth/token', {
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
      });
      expect(withoutKey.statusCode).toBe(401);
      expect(withoutKey.json().error).toBe('invalid_client');
    });

    it('reuse of a rotated token revokes the whole family', async () => {
      const clientId = await createPublic('patient/*.rs offline_access');
      const first = await tokensFor({ clientId, scope: 'patient/*.rs offline_access' });
      const second = (await refresh(clientId, first.refresh_token!)).json().refresh_token as string;
      expect((await refresh(clientId, first.refresh_token!)).json().error).toBe('invalid_grant');
      const afterTheft = await refresh(clientId, second);
      expect(afterTheft.statusCode).toBe(400);
      expect(afterTheft.json().error).toBe('invalid_grant');
    });

    it('a refresh narrows the scope, never widens it; the family keeps the granted scope', async () => {
      const clientId = await createPublic('patient/*.cruds offline_access');
      const first = await tokensFor({ clientId, scope: 'patient/*.rs offline_access' });
      const narrowed = await refresh(clientId, first.refresh_token!, 'patient/Observation.rs offline_access');
      expect(narrowed.statusCode, narrowed.body).toBe(200);
      expect(narrowed.json().scope).toBe('patient/Observation.rs offline_access');
      const next = narrowed.json().refresh_token as string;
      for (const wider of ['patient/*.cruds', 'patient/Observation.rs openid', 'user/*.rs']) {
        const widened = await refresh(clientId, next, wider);
        expect(widened.statusCode).toBe(400);
        expect(widened.json().error).toBe('invalid_scope');
      }
      // A refused scope does not spend the token; the full grant comes back without a scope.
      const full = await refresh(clientId, next);
      expect(full.statusCode).toBe(200);
      expect(full.json().scope).toBe('patient/*.rs offline_access');
      const rows = await db.query<{ scope: string }>(
        'SELECT DISTINCT scope FROM access_refresh_tokens WHERE client_id = $1',
        [clientId],
      );
      expect(rows.map((r) => r.scope)).toEqual(['patient/*.rs offline_access']);
    });

    it('online_access: the family ends at a fixed time however often it is refreshed', async () => {
      const clientId = await createPublic('patient/*.rs online_access');
      const first = await tokensFor({ clientId, scope: 'patient/*.rs online_access' });
      const second = await refresh(clientId, first.refresh_token!);
      expect(second.statusCode).toBe(200);
      const rows = await db.query<{ e: string }>(
        'SELECT DISTINCT expires_at::text AS e FROM access_refresh_tokens WHERE client_id = $1',
        [clientId],
      );
      expect(rows).toHaveLength(1);
      const hours = (Date.parse(rows[0]!.e) - Date.now()) / 3_600_000;
      expect(hours).toBeGreaterThan(11);
      expect(hours).toBeLessThanOrEqual(12);
    });

    it('no refresh token unless the client is registered for offline_access or online_access', async () => {
      const clientId = await createPublic('patient/*.rs');
      const body = await tokensFor({ clientId, scope: 'patient/*.rs offline_access' });
      expect(body).not.toHaveProperty('refresh_token');
      expect(body.scope).toBe('patient/*.rs');
    });

    it('refused for another client, a disabled user (also once enabled again) and a revoked client', async () => {
      await createUser(db, { username: 'bob', password: PASSWORD, role: 'patient', fhirId: 'pat-2' });
      const clientId = await createPublic('patient/*.rs offline_access');
      const other = await createPublic('patient/*.rs offline_access');
      const first = await tokensFor({ clientId, scope: 'patient/*.rs offline_access', username: 'bob' });
      expect((await refresh(other, first.refresh_token!)).json().error).toBe('invalid_grant');
      await disableUser(db, 'bob');
      expect((await refresh(clientId, first.refresh_token!)).json().error).toBe('invalid_grant');
      await enableUser(db, 'bob');
      expect((await refresh(clientId, first.refresh_token!)).json().error).toBe('invalid_grant');
      const again = await tokensFor({ clientId, scope: 'patient/*.rs offline_access', username: 'bob' });
      expect((await refresh(clientId, again.refresh_token!)).statusCode).toBe(200);
      const fresh = await tokensFor({ clientId, scope: 'patient/*.rs offline_access', username: 'bob' });
      await revokeClient(db, clientId);
      const revoked = await refresh(clientId, fresh.refresh_token!);
      expect(revoked.statusCode).toBe(401);
      expect(revoked.json().error).toBe('invalid_client');
    });
  });

  describe('revocation and introspection', () => {
    it('introspection needs an authenticated client', async () => {
      const clientId = await createPublic('patient/*.rs');
      const { access_token: token } = await tokensFor({ clientId, scope: 'patient/*.rs' });
      const anonymous = await post('/auth/introspect', { token });
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json().error).toBe('invalid_client');
      const publicOnly = await post('/auth/introspect', { token, client_id: clientId });
      expect(publicOnly.statusCode).toBe(401);
      expect(publicOnly.json().error).toBe('invalid_client');
    });

    it('an access token is active until revoked at /auth/revoke', async () => {
      const clientId = await createPublic('patient/*.rs');
      const { access_token: token } = await tokensFor({ clientId, scope: 'patient/*.rs' });
      const active = (await introspect(token!)).json();
      expect(active).toMatchObject({
        active: true,
        token_type: 'Bearer',
        scope: 'patient/*.rs',
        client_id: clientId,
        sub: 'alice',
        patient: 'pat-1',
        iss: PUBLIC_URL,
        aud: FHIR_BASE,
      });
      expect(active.exp).toBeGreaterThan(Date.now() / 1000 + 3000);
      // Another client's revocation request is answered 200 and changes nothing.
      const other = await createPublic('patient/*.rs');
      expect((await post('/auth/revoke', { token, client_id: other })).statusCode).toBe(200);
      expect((await introspect(token!)).json().active).toBe(true);
      const revoked = await post('/auth/revoke', {
        token,
        client_id: clientId,
        token_type_hint: 'access_token',
      });
      expect(revoked.statusCode).toBe(200);
      expect((await introspect(token!)).json()).toEqual({ active: false });
      // The FHIR routes' check refuses it too, once its cache is re-read (about a second).
      const tokens = await accessTokensFor(ctx);
      await expect
        .poll(
          () =>
            tokens.verify(token!).then(
              () => 'accepted',
              (e: { code?: string }) => e.code,
            ),
          {
            timeout: 15_000,
          },
        )
        .toBe('ERR_ACCESS_TOKEN_REVOKED');
    });

    it('a refresh token: active, then revoked with its family', async () => {
      const clientId = await createPublic('patient/*.rs offline_access');
      const first = await tokensFor({ clientId, scope: 'patient/*.rs offline_access' });
      expect((await introspect(first.refresh_token!)).json()).toMatchObject({
        active: true,
        token_type: 'refresh_token',
        client_id: clientId,
        sub: 'alice',
      });
      expect(
        (await post('/auth/revoke', { token: first.refresh_token, client_id: clientId })).statusCode,
      ).toBe(200);
      expect((await introspect(first.refresh_token!)).json()).toEqual({ active: false });
      expect((await refresh(clientId, first.refresh_token!)).json().error).toBe('invalid_grant');
    });

    it('expired, forged and unknown tokens are inactive; revoking an unknown token is 200', async () => {
      const tokens = await accessTokensFor(ctx);
      const { accessToken: expired } = await tokens.issue({
        kind: 'patient',
        subject: 'alice',
        clientId: 'x',
        scope: 'patient/*.rs',
        lifetimeSeconds: -60,
        internal: false,
      });
      const [header, payload] = expired.split('.');
      for (const token of [expired, `${header}.${payload}.AAAA`, 'no-such-token']) {
        expect((await introspect(token)).json()).toEqual({ active: false });
      }
      const clientId = await createPublic('patient/*.rs');
      expect((await post('/auth/revoke', { token: 'no-such-token', client_id: clientId })).statusCode).toBe(
        200,
      );
      expect((await post('/auth/revoke', { token: 'x', client_id: 'no-such-client' })).statusCode).toBe(401);
    });
  });

  describe('confidential asymmetric apps in the code flow', () => {
    it('medledger client create --generate-key --redirect-uri registers one', async () => {
      const result = await clientCreateCommand.run(ctx, {
        values: {
          name: 'confidential app',
          scope: 'user/*.rs',
          'generate-key': true,
          'redirect-uri': [REDIRECT],
        },
        positionals: [],
      });
      expect(result.json).toMatchObject({
        authorization_endpoint: `${PUBLIC_URL}/auth/authorize`,
        redirect_uris: [REDIRECT],
        token_endpoint: TOKEN_ENDPOINT,
      });
      const { client_id: clientId } = result.json as { client_id: string };
      const location = await authorize(
        { clientId, scope: 'user/*.rs', username: 'dr-eve' },
        pkce().challenge,
      );
      expect(location.searchParams.get('code')).toBeTruthy();
    });

    it('redeem the code with a client assertion; a bare client_id is refused', async () => {
      const app1 = await createBackend('user/*.rs offline_access', [REDIRECT]);
      const assertion = async () => ({
        client_assertion_type: CLIENT_ASSERTION_TYPE,
        client_assertion: await signAssertion(app1.privateJwk, app1.clientId),
      });
      const body = await tokensFor(
        { clientId: app1.clientId, scope: 'user/*.rs offline_access openid', username: 'dr-eve' },
        await assertion(),
      );
      expect(body).toMatchObject({
        scope: 'user/*.rs offline_access openid',
        fhirUser: 'Practitioner/prac-1',
      });
      const refreshed = await post('/auth/token', {
        grant_type: 'refresh_token',
        refresh_token: body.refresh_token,
        ...(await assertion()),
      });
      expect(refreshed.statusCode, refreshed.body).toBe(200);
      const { verifier, challenge } = pkce();
      const location = await authorize(
        { clientId: app1.clientId, scope: 'user/*.rs', username: 'dr-eve' },
        challenge,
      );
      const bare = await post('/auth/token', {
        grant_type: 'authorization_code',
        code: location.searchParams.get('code')!,
        redirect_uri: REDIRECT,
        code_verifier: verifier,
        client_id: app1.clientId,
      });
      expect(bare.statusCode).toBe(401);
      expect(bare.json().error).toBe('invalid_client');
    });
  });

  describe('EHR launch', () => {
    const practitionerBearer = async (
      username: string,
      kind: 'practitioner' | 'patient' = 'practitioner',
    ) => {
      const { accessToken } = await (await accessTokensFor(ctx)).issue({
        kind,
        subject: username,
        clientId: 'ehr',
        scope: 'user/*.rs',
        lifetimeSeconds: 3600,
        internal: true,
      });
      return `Bearer ${accessToken}`;
    };
    const createLaunch = async (authorization: string | undefined, payload: Record<string, string>) =>
      app.inject({
        method: 'POST',
        url: '/auth/launch',
        headers: authorization === undefined ? {} : { authorization },
        payload,
      });

    it('a launch made by the practitioner gives the app its patient and encounter', async () => {
      const created = await createLaunch(await practitionerBearer('dr-eve'), {
        patient: 'pat-9',
        encounter: 'enc-1',
      });
      expect(created.statusCode, created.body).toBe(201);
      const { launch, expires_in: expiresIn } = created.json();
      expect(expiresIn).toBe(600);
      const clientId = await createPublic('user/*.rs launch');
      const body = await tokensFor({
        clientId,
        scope: 'launch launch/patient launch/encounter user/*.rs openid fhirUser',
        username: 'dr-eve',
        launch,
      });
      expect(body).toMatchObject({
        patient: 'pat-9',
        encounter: 'enc-1',
        fhirUser: 'Practitioner/prac-1',
        scope: 'user/*.rs launch launch/patient launch/encounter openid fhirUser',
      });
      expect(decodeJwt(body.id_token!).fhirUser).toBe(`${FHIR_BASE}/Practitioner/prac-1`);
      const principal = await (await accessTokensFor(ctx)).verify(body.access_token!);
      expect(principal).toMatchObject({ kind: 'practitioner', patient: 'pat-9' });
    });

    it('unknown launch, launch without the scope, or another user: an error redirect with state', async () => {
      const clientId = await createPublic('user/*.rs');
      const unknown = await authorize(
        { clientId, scope: 'launch user/*.rs', username: 'dr-eve', launch: 'no-such-launch' },
        pkce().challenge,
      );
      expect(unknown.origin + unknown.pathname).toBe(REDIRECT);
      expect(unknown.searchParams.get('error')).toBe('invalid_request');
      expect(unknown.searchParams.get('state')).toBe('st-1');
      const { launch } = (
        await createLaunch(await practitionerBearer('dr-eve'), { patient: 'pat-9' })
      ).json();
      const noScope = await authorize({ clientId, scope: 'user/*.rs', launch }, pkce().challenge);
      expect(noScope.searchParams.get('error')).toBe('invalid_scope');
      const stolen = await authorize(
        { clientId, scope: 'launch user/*.rs', username: 'dr-mal', launch },
        pkce().challenge,
      );
      expect(stolen.searchParams.get('error')).toBe('access_denied');
      expect(stolen.searchParams.get('code')).toBeNull();
    });

    it('medledger launch create makes the same context, with the URL to open the app at', async () => {
      const result = await launchCreateCommand.run(ctx, {
        values: {
          user: 'dr-eve',
          patient: 'pat-5',
          encounter: 'enc-5',
          'app-url': 'https://app.example/launch',
        },
        positionals: [],
      });
      const json = result.json as { launch: string; iss: string; app_url: string };
      expect(json.iss).toBe(FHIR_BASE);
      const appUrl = new URL(json.app_url);
      expect(appUrl.searchParams.get('iss')).toBe(FHIR_BASE);
      expect(appUrl.searchParams.get('launch')).toBe(json.launch);
      const clientId = await createPublic('user/*.rs launch');
      const body = await tokensFor({
        clientId,
        scope: 'launch user/*.rs',
        username: 'dr-eve',
        launch: json.launch,
      });
      expect(body).toMatchObject({ patient: 'pat-5', encounter: 'enc-5' });
      await expect(
        launchCreateCommand.run(ctx, { values: { user: 'alice', patient: 'pat-1' }, positionals: [] }),
      ).rejects.toThrow(/not an enabled practitioner/);
    });

    it('POST /auth/launch needs a practitioner token and a patient', async () => {
      expect((await createLaunch(undefined, { patient: 'pat-9' })).statusCode).toBe(401);
      const patient = await createLaunch(await practitionerBearer('alice', 'patient'), { patient: 'pat-1' });
      expect(patient.statusCode).toBe(403);
      const noPatient = await createLaunch(await practitionerBearer('dr-eve'), {});
      expect(noPatient.statusCode).toBe(400);
      expect(noPatient.json().error).toBe('invalid_request');
    });

    it("without a picker, a practitioner's standalone launch/patient is refused, not silently granted", async () => {
      const clientId = await createPublic('user/*.rs launch/patient');
      const location = await authorize(
        { clientId, scope: 'launch/patient user/*.rs', username: 'dr-eve' },
        pkce().challenge,
      );
      expect(location.searchParams.get('error')).toBe('invalid_scope');
      expect(location.searchParams.get('error_description')).toContain('EHR launch');
      expect(location.searchParams.get('state')).toBe('st-1');
    });
  });

  describe('patient picker (practitioner standalone launch/patient)', () => {
    it('lists what the picker allows; the chosen patient becomes the context; a choice works once', async () => {
      const asked: string[] = [];
      picker = async (user, scope) => {
        asked.push(`${user.username} ${scope}`);
        return [
          { id: 'pat-7', name: 'Ada <script>' },
          { id: 'pat-8', name: 'Bo' },
        ];
      };
      try {
        const clientId = await createPublic('user/*.rs launch/patient');
        const { verifier, challenge } = pkce();
        const query = {
          response_type: 'code',
          client_id: clientId,
          redirect_uri: REDIRECT,
          scope: 'launch/patient user/*.rs openid',
          state: 'st-2',
          code_challenge: challenge,
          code_challenge_method: 'S256',
        };
        const page = await post('/auth/authorize', { ...query, username: 'dr-eve', password: PASSWORD });
        expect(page.statusCode).toBe(200);
        expect(asked).toEqual(['dr-eve user/*.rs']);
        expect(page.body).toContain('Choose a patient');
        expect(page.body).toContain('Ada &lt;script&gt;');
        const picks = [...page.body.matchAll(/name="pick" value="([^"]+)" data-patient="([^"]+)"/g)].map(
          (m) => ({ pick: m[1]!, patient: m[2]! }),
        );
        expect(picks.map((p) => p.patient)).toEqual(['pat-7', 'pat-8']);
        const forged = await post('/auth/authorize', { ...query, pick: 'forged-value' });
        expect(new URL(forged.headers.location as string).searchParams.get('error')).toBe('invalid_request');
        const chosen = await post('/auth/authorize', { ...query, pick: picks[1]!.pick });
        expect(chosen.statusCode).toBe(302);
        const location = new URL(chosen.headers.location as string);
        expect(location.searchParams.get('state')).toBe('st-2');
        const token = await post('/auth/token', {
          grant_type: 'authorization_code',
          code: location.searchParams.get('code')!,
          redirect_uri: REDIRECT,
          code_verifier: verifier,
          client_id: clientId,
        });
        expect(token.json()).toMatchObject({ patient: 'pat-8', scope: 'user/*.rs launch/patient openid' });
        // The list's other choice died with the first: one login, one patient.
        const again = await post('/auth/authorize', { ...query, pick: picks[0]!.pick });
        expect(new URL(again.headers.location as string).searchParams.get('error')).toBe('invalid_request');
        // An empty list: the scope is refused, not granted without a patient.
        picker = async () => [];
        const none = await authorize(
          { clientId, scope: 'launch/patient user/*.rs', username: 'dr-eve' },
          challenge,
        );
        expect(none.searchParams.get('error')).toBe('invalid_scope');
      } finally {
        picker = undefined;
      }
    });
  });

  describe('authorize errors go back to the app', () => {
    it('a wrong aud is an error redirect with state; a loopback-equivalent aud is accepted', async () => {
      const clientId = await createPublic('patient/*.rs');
      const location = await authorize(
        { clientId, scope: 'patient/*.rs', aud: 'https://evil.example/fhir' },
        pkce().challenge,
      );
      expect(location.origin + location.pathname).toBe(REDIRECT);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('error_description')).toContain('aud');
      expect(location.searchParams.get('state')).toBe('st-1');
      const badType = await app.inject({
        method: 'GET',
        url: `/auth/authorize?${form({ response_type: 'token', client_id: clientId, redirect_uri: REDIRECT, state: 'q' })}`,
      });
      expect(badType.statusCode).toBe(302);
      expect(new URL(badType.headers.location as string).searchParams.get('error')).toBe(
        'unsupported_response_type',
      );
      expect(sameFhirBase('http://localhost:8080/fhir/', 'http://127.0.0.1:8080/fhir')).toBe(true);
      expect(sameFhirBase('http://[::1]:8080/fhir', 'http://localhost:8080/fhir')).toBe(true);
      expect(sameFhirBase('http://localhost:8081/fhir', 'http://127.0.0.1:8080/fhir')).toBe(false);
      expect(sameFhirBase('http://localhost:8080/other', 'http://127.0.0.1:8080/fhir')).toBe(false);
      expect(sameFhirBase('http://node-a.example/fhir', 'https://node-a.example/fhir')).toBe(false);
      expect(sameFhirBase('not a url', 'https://node-a.example/fhir')).toBe(false);
    });
  });
});
