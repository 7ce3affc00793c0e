/**
 * How `medledger sync` authenticates to the source FHIR server: a fixed bearer token
 * (`--auth bearer:TOKEN`), or SMART Backend Services (`--client-id`, `--private-key FILE`,
 * `--token-url`): a `client_credentials` grant with a `private_key_jwt` client assertion signed
 * by jose, the token reused until shortly before it expires.
 * @see https://hl7.org/fhir/smart-app-launch/backend-services.html
 * @see https://www.rfc-editor.org/rfc/rfc7523
 */
import { createPrivateKey, type KeyObject, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { importJWK, type JWK, SignJWT } from 'jose';
import { SyncError } from './SyncError.ts';

export type SourceAuth =
  | { kind: 'none' }
  | { kind: 'bearer'; token: string }
  | { kind: 'backend'; clientId: string; privateKeyFile: string; tokenUrl: string; scope: string };

/** Returns the `Authorization` header value for the next request (undefined: none). */
export type Authorize = () => Promise<string | undefined>;

export function sourceAuthorization(auth: SourceAuth): Authorize {
  if (auth.kind === 'none') return async () => undefined;
  if (auth.kind === 'bearer') return async () => `Bearer ${auth.token}`;
  let cached: { token: string; until: number } | undefined;
  return async () => {
    if (!cached || cached.until <= Date.now()) cached = await requestToken(auth);
    return `Bearer ${cached.token}`;
  };
}

async function requestToken(
  auth: Extract<SourceAuth, { kind: 'backend' }>,
): Promise<{ token: string; until: number }> {
  const { key, alg, kid } = await loadPrivateKey(auth.privateKeyFile);
  const assertion = await new SignJWT({})
    .setProtectedHeader({ alg, typ: 'JWT', ...(kid ? { kid } : {}) })
    .setIssuer(auth.clientId)
    .setSubject(auth.clientId)
    .setAudience(auth.tokenUrl)
    .setJti(randomUUID())
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(key);
  const response = await fetch(auth.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      scope: auth.scope,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: assertion,
    }),
  }).catch((error: unknown) => {
    throw new SyncError('ERR_SYNC_AUTH', `token endpoint ${auth.tokenUrl} unreachable`, error);
  });
  const body = (await response.json().catch(() => ({}))) as {
    access_token?: string;
    expires_in?: number;
    error?: string;
  };
  if (!response.ok || !body.access_token)
    throw new SyncError(
      'ERR_SYNC_AUTH',
      `token endpoint refused the client (${response.status} ${body.error ?? ''})`.trim(),
    );
  const lifetime = Math.max(30, body.expires_in ?? 300);
  return { token: body.access_token, until: Date.now() + (lifetime - 20) * 1000 };
}

/** A private JWK (JSON, as `medledger client create --generate-key` prints) or a PKCS#8 PEM. */
async function loadPrivateKey(
  file: string,
): Promise<{ key: CryptoKey | KeyObject; alg: string; kid?: string }> {
  const text = (await readFile(file, 'utf8')).trim();
  if (text.startsWith('{')) {
    const jwk = JSON.parse(text) as JWK;
    const alg = jwk.alg ?? (jwk.kty === 'EC' ? 'ES384' : 'RS384');
    return { key: (await importJWK(jwk, alg)) as CryptoKey, alg, ...(jwk.kid ? { kid: jwk.kid } : {}) };
  }
  const key = createPrivateKey(text);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const alg =
    key.asymmetricKeyType === 'rsa'
      ? 'RS384'
      : curve === 'prime256v1'
        ? 'ES256'
        : curve === 'secp521r1'
          ? 'ES512'
          : 'ES384';
  return { key, alg };
}
