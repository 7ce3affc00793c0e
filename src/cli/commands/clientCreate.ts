/**
 * `medledger client create`: registers an OAuth client. A backend client (SMART Backend
 * Services) gets its public keys from --jwks FILE or a fresh ES384 key pair (--generate-key,
 * the private JWK printed once and never stored); --public registers a portal app for the
 * code flow with PKCE. A backend client given --redirect-uri is a confidential app: the code flow
 * with its key (private_key_jwt) at the token endpoint.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JSONWebKeySet, type JWK } from 'jose';
import { authEndpoints } from '../../access/accessTokensFor.ts';
import { type AccessClient, createClient } from '../../access/clients.ts';
import { ConfigError } from '../../errors/MedledgerError.ts';
import type { Command } from '../command.ts';
import { nodeOptions } from '../command.ts';

export const clientCreateCommand: Command = {
  name: ['client', 'create'],
  summary: 'register an OAuth client (backend service or public app)',
  usage:
    'medledger client create --name N --scope "system/*.cruds" (--jwks FILE | --generate-key [--alg ES384|RS384]) [--address 0x..] [--redirect-uri URL...] [--json]\n' +
    '       medledger client create --public --name N --scope "patient/*.rs launch/patient" --redirect-uri URL... [--json]',
  options: {
    ...nodeOptions,
    name: { type: 'string' },
    scope: { type: 'string' },
    jwks: { type: 'string' },
    'generate-key': { type: 'boolean' },
    alg: { type: 'string' },
    public: { type: 'boolean' },
    'redirect-uri': { type: 'string', multiple: true },
    address: { type: 'string' },
    'client-id': { type: 'string' },
  },
  workers: false,
  async run(ctx, { values }) {
    const name = values.name;
    const scope = values.scope;
    if (typeof name !== 'string' || typeof scope !== 'string')
      throw new ConfigError('--name and --scope are required');
    const endpoints = authEndpoints(ctx.config.publicUrl);
    const clientId = typeof values['client-id'] === 'string' ? { clientId: values['client-id'] } : {};
    let client: AccessClient;
    let privateJwk: JWK | undefined;
    const redirectUris = Array.isArray(values['redirect-uri']) ? values['redirect-uri'] : [];
    for (const uri of redirectUris) {
      if (!URL.canParse(uri)) throw new ConfigError(`--redirect-uri ${uri} is not an absolute URL`);
    }
    if (values.public === true) {
      client = await createClient(ctx.db, { kind: 'public', name, scopes: scope, redirectUris, ...clientId });
    } else {
      let jwks: JSONWebKeySet;
      if (typeof values.jwks === 'string') {
        jwks = toJwks(JSON.parse(await readFile(resolve(values.jwks), 'utf8')));
      } else if (values['generate-key'] === true) {
        const generated = await generateClientKey(values.alg === 'RS384' ? 'RS384' : 'ES384');
        jwks = { keys: [generated.publicJwk] };
        privateJwk = generated.privateJwk;
      } else {
        throw new ConfigError('a backend client needs --jwks FILE or --generate-key (or use --public)');
      }
      const address = typeof values.address === 'string' ? { memberAddress: values.address } : {};
      client = await createClient(ctx.db, {
        kind: 'backend',
        name,
        scopes: scope,
        jwks,
        redirectUris,
        ...address,
        ...clientId,
      });
    }
    const json = {
      client_id: client.clientId,
      ...(privateJwk === undefined ? {} : { private_jwk: privateJwk }),
      token_endpoint: endpoints.tokenEndpoint,
      ...(client.redirectUris.length > 0
        ? { authorization_endpoint: endpoints.authorizationEndpoint, redirect_uris: client.redirectUris }
        : {}),
      scope: client.scopes,
    };
    const text = `${client.kind} client ${client.clientId} (${client.name}) registered with scopes ${client.scopes}${
      privateJwk ? '\nthe private key is printed once (with --json) and not stored: keep it safe' : ''
    }`;
    return { exitCode: 0, json, text };
  },
};

/** A key pair for a backend client, as SMART Backend Services asks (ES384 or RS384). */
export async function generateClientKey(
  alg: 'ES384' | 'RS384',
): Promise<{ privateJwk: JWK; publicJwk: JWK }> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    privateJwk: { ...(await exportJWK(privateKey)), alg, kid, use: 'sig' },
    publicJwk: { ...publicJwk, alg, kid, use: 'sig' },
  };
}

function toJwks(value: unknown): JSONWebKeySet {
  if (value && typeof value === 'object' && Array.isArray((value as JSONWebKeySet).keys))
    return value as JSONWebKeySet;
  if (value && typeof value === 'object' && 'kty' in value) return { keys: [value as JWK] };
  throw new ConfigError('--jwks must name a JSON file holding a JWK Set ({"keys": [...]}) or one public JWK');
}
