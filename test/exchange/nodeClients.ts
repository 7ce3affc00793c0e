/**
 * Test helpers for medledger processes: run a CLI command against a node's data directory
 * (routed to the running node over its admin socket), and get a SMART Backend Services token
 * the way an EHR does (client create, then client_credentials with a private_key_jwt assertion).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { importJWK, type JWK, SignJWT } from 'jose';

const run = promisify(execFile);

export async function cli<T>(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  const { stdout } = await run('node', ['bin/medledger.js', ...args, '--data-dir', dataDir, '--json'], {
    env: { ...process.env, ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as T;
}

/** `Authorization` header value of a backend client with `scope` at the node. */
export async function backendToken(dataDir: string, env: Record<string, string>, scope = 'system/*.cruds') {
  const created = await cli<{ client_id: string; private_jwk: JWK; token_endpoint: string }>(
    dataDir,
    ['client', 'create', '--name', 'ehr', '--scope', scope, '--generate-key'],
    env,
  );
  const alg = created.private_jwk.alg ?? 'ES384';
  const now = Math.floor(Date.now() / 1000);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg, kid: created.private_jwk.kid ?? '', typ: 'JWT' })
    .setIssuer(created.client_id)
    .setSubject(created.client_id)
    .setAudience(created.token_endpoint)
    .setIssuedAt(now)
    .setExpirationTime(now + 240)
    .setJti(randomUUID())
    .sign(await importJWK(created.private_jwk, alg));
  const response = await fetch(created.token_endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  });
  const body = (await response.json()) as { access_token?: string };
  if (!response.ok || !body.access_token) throw new Error(`no token: ${JSON.stringify(body)}`);
  return `Bearer ${body.access_token}`;
}
