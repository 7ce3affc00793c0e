import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { importJWK, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCreateCommand, generateClientKey } from '../cli/commands/clientCreate.ts';
import { userCreateCommand } from '../cli/commands/userCreate.ts';
import type { NodeContext } from '../context/NodeContext.ts';
import type { Db } from '../store/db.ts';
import { testDatabases } from '../store/testing/databases.ts';
import { accessTokensFor } from './accessTokensFor.ts';
import { registerAuthRoutes } from './registerAuthRoutes.ts';

const PUBLIC_URL = 'https://node-a.example';
const TOKEN_ENDPOINT = `${PUBLIC_URL}/auth/token`;
const NODE_ADDRESS = '0x00000000000000000000000000000000000000aa';
const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = { 'content-type': 'application/x-www-form-urlencoded' };

async function signAssertion(
  privateJwk: JWK,
  clientId: string,
  overrides: { aud?: string; exp?: number; jti?: string; iat?: number } = {},
): Promise<string> {
  const alg = privateJwk.alg ?? 'ES384';
  const key = await importJWK(privateJwk, alg);
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg, kid: privateJwk.kid ?? '', typ: 'JWT' })
    .setIssuer(clientId)
    .setSubject(clientId)
    .setAudience(overrides.aud ?? TOKEN_ENDPOINT)
    .setIssuedAt(overrides.iat ?? now)
    .setExpirationTime(overrides.exp ?? now + 240)
    .setJti(overrides.jti ?? randomUUID())
    .sign(key);
}

describe.each(testDatabases)('SMART authorization server on $name', ({ open }) => {
  let db: Db;
  let dataDir: string;
  let ctx: NodeContext;
  let app: FastifyInstance;

  beforeAll(async () => {
    db = await open();
    dataDir = await mkdtemp(join(tmpdir(), 'medledger-auth-'));
    ctx = {
      db,
      config: { publicUrl: PUBLIC_URL, dataDir },
      identity: { account: { address: NODE_ADDRESS } },
    } as unknown as NodeContext;
    app = Fastify();
    await registerAuthRoutes(app, ctx, { rateLimitPerMinute: 10_000 });
    await app.ready();
  });

  afterAll(async () => {
    await app?.close();
    await db?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  const createBackendClient = async (scope: string) => {
    const result = await clientCreateCommand.run(ctx, {
      values: { name: 'EHR integration', scope, 'generate-key': true, json: true },
      positionals: [],
    });
    return result.json as { client_id: string; private_jwk: JWK; token_endpoint: string };
  };

  const requestToken = (fields: Record<string, string>) =>
    app.inject({ method: 'POST', url: '/auth/token', headers: formHeaders, payload: form(fields) });

  const clientCredentials = (assertion: string, scope = 'system/*.rs') =>
    requestToken({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: CLIENT_ASSERTION_TYPE,
      client_assertion: assertion,
    });

  it('publishes the SMART configuration at both well-known paths', async () => {
    for (const url of ['/fhir/.well-known/smart-configuration', '/.well-known/smart-configuration']) {
      const response = await app.inject({ method: 'GET', url });
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body.token_endpoint).toBe(TOKEN_ENDPOINT);
      expect(body.authorization_endpoint).toBe(`${PUBLIC_URL}/auth/authorize`);
      expect(body.token_endpoint_auth_methods_supported).toEqual(['private_key_jwt', 'none']);
      expect(body.code_challenge_methods_supported).toEqual(['S256']);
      expect(body.capabilities).toEqual(
        expect.arrayContaining(['permission-v2', 'client-confidential-asymmetric']),
      );
    }
  });

  it('backend services: client create, signed assertion, token, verified principal', async () => {
    const client = await createBackendClient('system/*.cruds');
    expect(client.token_endpoint).toBe(TOKEN_ENDPOINT);
    expect(client.private_jwk).toMatchObject({ kty: 'EC', crv: 'P-384', alg: 'ES384' });
    const response = await clientCredentials(
      await signAssertion(client.private_jwk, client.client_id),
      'system/Observation.rs system/Patient.r',
    );
    expect(response.statusCode).toBe(200);
    expect(response.headers['cache-control']).toBe('no-store');
    const body = response.json();
    expect(body).toMatchObject({
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'system/Observation.rs system/Patient.r',
    });
    const principal = await (await accessTokensFor(ctx)).verify(body.access_token);
    expect(principal).toMatchObject({
      kind: 'system',
      context: 'system',
      clientId: client.client_id,
      internal: true,
    });
    expect(principal.expiresAt - Math.floor(Date.now() / 1000)).toBeLessThanOrEqual(300);
    const keyFile = await stat(join(dataDir, 'keys', 'token-signing.jwk'));
    expect(keyFile.mode & 0o777).toBe(0o600);
  });

  it('an RS384 client key works too', async () => {
    const { privateJwk, publicJwk } = await generateClientKey('RS384');
    const { writeFile } = await import('node:fs/promises');
    const jwksFile = join(dataDir, 'client-jwks.json');
    await writeFile(jwksFile, JSON.stringify({ keys: [publicJwk] }));
    const result = await clientCreateCommand.run(ctx, {
      values: { name: 'RSA client', scope: 'system/*.rs', jwks: jwksFile },
      positionals: [],
    });
    const { client_id: clientId } = result.json as { client_id: string };
    expect(result.json).not.toHaveProperty('private_jwk');
    const response = await clientCredentials(await signAssertion(privateJwk, clientId));
    expect(response.statusCode).toBe(200);
  });

  it('a replayed assertion (same jti) is rejected', async () => {
    const client = await createBackendClient('system/*.rs');
    const assertion = await signAssertion(client.private_jwk, client.client_id);
    expect((await clientCredentials(assertion)).statusCode).toBe(200);
    const replay = await clientCredentials(assertion);
    expect(replay.statusCode).toBe(401);
    expect(replay.json().error).toBe('invalid_client');
  });

  it('rejects a wrong audience, an expired assertion, one living over 5 minutes, and a wrong key', async () => {
    const client = await createBackendClient('system/*.rs');
    const other = await generateClientKey('ES384');
    const now = Math.floor(Date.now() / 1000);
    const bad = [
      await signAssertion(client.private_jwk, client.client_id, { aud: `${PUBLIC_URL}/fhir` }),
      await signAssertion(client.private_jwk, client.client_id, { exp: now - 60, iat: now - 400 }),
      await signAssertion(client.private_jwk, client.client_id, { exp: now + 3600 }),
      await signAssertion({ ...other.privateJwk, kid: client.private_jwk.kid! }, client.client_id),
      await signAssertion(client.private_jwk, 'no-such-client'),
    ];
    for (const assertion of bad) {
      const response = await clientCredentials(assertion);
      expect(response.statusCode).toBe(401);
      expect(response.json().error).toBe('invalid_client');
    }
  });

  it('grants requested ∩ registered scopes, and invalid_scope when nothing is left', async () => {
    const client = await createBackendClient('system/Observation.rs');
    const narrowed = await clientCredentials(
      await signAssertion(client.private_jwk, client.client_id),
      'system/*.cruds',
    );
    expect(narrowed.json().scope).toBe('system/Observation.rs');
    const none = await clientCredentials(
      await signAssertion(client.private_jwk, client.client_id),
      'system/Patient.r',
    );
    expect(none.statusCode).toBe(400);
    expect(none.json().error).toBe('invalid_scope');
  });

  it('rejects unsupported grant types and missing assertions per RFC 6749', async () => {
    const password = await requestToken({ grant_type: 'password', username: 'a', password: 'b' });
    expect(password.statusCode).toBe(400);
    expect(password.json().error).toBe('unsupported_grant_type');
    const noAssertion = await requestToken({ grant_type: 'client_credentials', scope: 'system/*.rs' });
    expect(noAssertion.statusCode).toBe(401);
    expect(noAssertion.json().error).toBe('invalid_client');
  });

  describe('authorization code with PKCE', () => {
    const redirectUri = 'https://portal.example/callback';
    let clientId = '';

    beforeAll(async () => {
      const created = await clientCreateCommand.run(ctx, {
        values: {
          public: true,
          name: 'Patient portal',
          scope: 'patient/*.rs user/*.cruds launch/patient',
          'redirect-uri': [redirectUri],
        },
        positionals: [],
      });
      clientId = (created.json as { client_id: string }).client_id;
      await userCreateCommand.run(ctx, {
        values: {
          role: 'patient',
          username: 'alice',
          password: 'correct horse battery',
          'fhir-id': 'pat-1',
          address: `0x${'11'.repeat(20)}`,
        },
        positionals: [],
      });
    });

    const pkce = () => {
      const verifier = randomBytes(32).toString('base64url');
      return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
    };

    const login = async (challenge: string, password = 'correct horse battery') => {
      const query = {
        response_type: 'code',
        client_id: clientId,
        redirect_uri: redirectUri,
        scope: 'patient/*.rs launch/patient',
        state: 'xyz',
        code_challenge: challenge,
        code_challenge_method: 'S256',
        aud: `${PUBLIC_URL}/fhir`,
      };
      const page = await app.inject({ method: 'GET', url: `/auth/authorize?${form(query)}` });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('name="password"');
      return app.inject({
        method: 'POST',
        url: '/auth/authorize',
        headers: formHeaders,
        payload: form({ ...query, username: 'alice', password }),
      });
    };

    const redeem = (code: string, verifier: string) =>
      requestToken({
        grant_type: 'authorization_code',
        code,
        client_id: clientId,
        redirect_uri: redirectUri,
        code_verifier: verifier,
      });

    it('logs in, redirects with a code, and the code with its verifier gives a patient token', async () => {
      const { verifier, challenge } = pkce();
      const redirect = await login(challenge);
      expect(redirect.statusCode).toBe(302);
      const location = new URL(redirect.headers.location as string);
      expect(location.origin + location.pathname).toBe(redirectUri);
      expect(location.searchParams.get('state')).toBe('xyz');
      const response = await redeem(location.searchParams.get('code')!, verifier);
      expect(response.statusCode).toBe(200);
      const body = response.json();
      expect(body).toMatchObject({
        token_type: 'Bearer',
        expires_in: 3600,
        patient: 'pat-1',
        scope: 'patient/*.rs launch/patient',
      });
      const principal = await (await accessTokensFor(ctx)).verify(body.access_token);
      expect(principal).toMatchObject({
        kind: 'patient',
        patient: 'pat-1',
        fhirUser: 'Patient/pat-1',
        address: `0x${'11'.repeat(20)}`,
      });
    });

    it('a wrong password re-renders the form with 401 and no code', async () => {
      const response = await login(pkce().challenge, 'wrong password!');
      expect(response.statusCode).toBe(401);
      expect(response.headers.location).toBeUndefined();
    });

    it('a wrong code_verifier is rejected, and the code is then spent', async () => {
      const { verifier, challenge } = pkce();
      const code = new URL((await login(challenge)).headers.location as string).searchParams.get('code')!;
      const wrong = await redeem(code, pkce().verifier);
      expect(wrong.statusCode).toBe(400);
      expect(wrong.json().error).toBe('invalid_grant');
      expect((await redeem(code, verifier)).json().error).toBe('invalid_grant');
    });

    it('a code works once', async () => {
      const { verifier, challenge } = pkce();
      const code = new URL((await login(challenge)).headers.location as string).searchParams.get('code')!;
      expect((await redeem(code, verifier)).statusCode).toBe(200);
      const again = await redeem(code, verifier);
      expect(again.statusCode).toBe(400);
      expect(again.json().error).toBe('invalid_grant');
    });

    it('an unregistered redirect_uri is refused without redirecting; a missing PKCE challenge is redirected as an error', async () => {
      const base = {
        response_type: 'code',
        client_id: clientId,
        scope: 'patient/*.rs',
        code_challenge_method: 'S256',
      };
      const evil = await app.inject({
        method: 'GET',
        url: `/auth/authorize?${form({ ...base, redirect_uri: 'https://evil.example/cb', code_challenge: pkce().challenge })}`,
      });
      expect(evil.statusCode).toBe(400);
      expect(evil.headers.location).toBeUndefined();
      const noPkce = await app.inject({
        method: 'GET',
        url: `/auth/authorize?${form({ ...base, redirect_uri: redirectUri, state: 's1' })}`,
      });
      expect(noPkce.statusCode).toBe(302);
      const location = new URL(noPkce.headers.location as string);
      expect(location.origin + location.pathname).toBe(redirectUri);
      expect(location.searchParams.get('error')).toBe('invalid_request');
      expect(location.searchParams.get('state')).toBe('s1');
    });
  });

  it('user create for a practitioner with an address enqueues registerPractitioner', async () => {
    const address = `0x${'22'.repeat(20)}`;
    const result = await userCreateCommand.run(ctx, {
      values: {
        role: 'practitioner',
        username: 'dr-bob',
        password: 'a long password',
        address,
        'fhir-id': 'prac-7',
      },
      positionals: [],
    });
    expect(result.json).toMatchObject({ role: 'practitioner', address });
    const rows = await db.query<{ function_name: string; args: unknown }>(
      `SELECT function_name, args FROM chain_outbox WHERE contract = 'registry'`,
    );
    expect(rows.map((r) => r.function_name)).toEqual(['registerPractitioner']);
    const args = typeof rows[0]!.args === 'string' ? JSON.parse(rows[0]!.args) : rows[0]!.args;
    expect(args[0]).toBe(address);
    await expect(
      userCreateCommand.run(ctx, {
        values: { role: 'practitioner', username: 'dr-bob', password: 'another password' },
        positionals: [],
      }),
    ).rejects.toMatchObject({ code: 'ERR_ACCESS_USER_EXISTS' });
  });
});
