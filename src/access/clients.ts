/**
 * OAuth clients of this node: backend services (SMART Backend Services, `private_key_jwt`
 * with a registered JWKS) and public apps (code flow + PKCE, registered redirect URIs). A
 * backend client with redirect URIs is a confidential asymmetric app (SMART
 * `client-confidential-asymmetric`): it runs the code flow too and authenticates at the token
 * endpoint with its signed assertion instead of a bare client_id.
 */
import { randomUUID } from 'node:crypto';
import type { JSONWebKeySet } from 'jose';
import type { Queryable } from '../store/db.ts';
import { AccessError } from './AccessError.ts';
import { parseScopes } from './scopes.ts';

export interface AccessClient {
  clientId: string;
  kind: 'backend' | 'public';
  name: string;
  /** Space-separated scopes the client may be granted. */
  scopes: string;
  jwks: JSONWebKeySet | undefined;
  redirectUris: string[];
  /** Set when the client acts for another member institution (chain address, lower-case). */
  memberAddress: string | undefined;
  disabled: boolean;
}

export type CreateClientParameters =
  | {
      kind: 'backend';
      name: string;
      scopes: string;
      jwks: JSONWebKeySet;
      memberAddress?: string;
      clientId?: string;
      /** For the code flow (a confidential app); none for a pure backend service. */
      redirectUris?: string[];
    }
  | { kind: 'public'; name: string; scopes: string; redirectUris: string[]; clientId?: string };

export async function createClient(db: Queryable, parameters: CreateClientParameters): Promise<AccessClient> {
  if (parseScopes(parameters.scopes).length === 0 && !/\S/.test(parameters.scopes)) {
    throw new AccessError('ERR_ACCESS_SCOPE_INVALID', 'a client needs at least one scope');
  }
  if (parameters.kind === 'backend' && !(parameters.jwks.keys?.length > 0)) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'a backend client needs at least one public key');
  }
  if (parameters.kind === 'backend' && parameters.jwks.keys.some((k) => 'd' in k)) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'the JWKS must hold public keys only');
  }
  if (parameters.kind === 'public' && parameters.redirectUris.length === 0) {
    throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'a public client needs at least one --redirect-uri');
  }
  const client: AccessClient = {
    clientId: parameters.clientId ?? randomUUID(),
    kind: parameters.kind,
    name: parameters.name,
    scopes: parameters.scopes.trim().split(/\s+/).join(' '),
    jwks: parameters.kind === 'backend' ? parameters.jwks : undefined,
    redirectUris: parameters.redirectUris ?? [],
    memberAddress:
      parameters.kind === 'backend' && parameters.memberAddress
        ? parameters.memberAddress.toLowerCase()
        : undefined,
    disabled: false,
  };
  const rows = await db.query(
    `INSERT INTO access_clients (client_id, kind, name, scopes, jwks, redirect_uris, member_address)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7) ON CONFLICT (client_id) DO NOTHING RETURNING client_id`,
    [
      client.clientId,
      client.kind,
      client.name,
      client.scopes,
      client.jwks === undefined ? null : JSON.stringify(client.jwks),
      JSON.stringify(client.redirectUris),
      client.memberAddress ?? null,
    ],
  );
  if (rows.length === 0)
    throw new AccessError('ERR_ACCESS_CLIENT_EXISTS', `client ${client.clientId} already exists`);
  return client;
}

interface ClientRow {
  client_id: string;
  kind: 'backend' | 'public';
  name: string;
  scopes: string;
  jwks: JSONWebKeySet | string | null;
  redirect_uris: string[] | string;
  member_address: string | null;
  disabled: boolean;
}

export async function findClient(db: Queryable, clientId: string): Promise<AccessClient | undefined> {
  const rows = await db.query<ClientRow>(
    `SELECT client_id, kind, name, scopes, jwks, redirect_uris, member_address, disabled
     FROM access_clients WHERE client_id = $1`,
    [clientId],
  );
  const row = rows[0];
  if (!row) return undefined;
  const json = <T>(value: T | string): T => (typeof value === 'string' ? (JSON.parse(value) as T) : value);
  return {
    clientId: row.client_id,
    kind: row.kind,
    name: row.name,
    scopes: row.scopes,
    jwks: row.jwks === null ? undefined : json(row.jwks),
    redirectUris: json(row.redirect_uris),
    memberAddress: row.member_address ?? undefined,
    disabled: row.disabled,
  };
}
