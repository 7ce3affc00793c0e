/**
 * Disabled users and revoked clients, as the token check sees them. Disabling a user or revoking
 * a client records the instant (`tokens_revoked_at`); every token issued to it at or before that
 * instant is refused from then on, on every route, however long it would have lived. An enabled
 * user gets new tokens; old ones stay dead.
 *
 * The set is read from the database at most once per {@link REFRESH_MS} (one small query over the
 * rows that were ever revoked), so a revocation takes effect within that time on every node
 * process sharing the database, and a request costs no query of its own.
 */
import type { Queryable } from '../store/db.ts';
import type { TokenRevocations } from './AccessTokens.ts';
import type { Principal } from './Principal.ts';

export const REFRESH_MS = 1000;

interface Revoked {
  /** Unix ms: tokens issued at or before it are refused. */
  at: number;
  /** Refused whatever the token's age. */
  disabled: boolean;
}

export function databaseRevocations(db: Queryable, now: () => number = Date.now): TokenRevocations {
  let users = new Map<string, Revoked>();
  let clients = new Map<string, Revoked>();
  let tokenIds = new Set<string>();
  let loadedAt = Number.NEGATIVE_INFINITY;
  let loading: Promise<void> | undefined;

  const load = async () => {
    const rows = await db.query<{ what: string; name: string; disabled: boolean; at: string | null }>(
      `SELECT 'user' AS what, username AS name, disabled, tokens_revoked_at::text AS at FROM access_users
         WHERE disabled OR tokens_revoked_at IS NOT NULL
       UNION ALL
       SELECT 'client', client_id, disabled, tokens_revoked_at::text FROM access_clients
         WHERE disabled OR tokens_revoked_at IS NOT NULL
       UNION ALL
       SELECT 'token', jti, true, NULL FROM access_revoked_tokens WHERE expires_at > now()`,
    );
    const nextUsers = new Map<string, Revoked>();
    const nextClients = new Map<string, Revoked>();
    const nextTokenIds = new Set<string>();
    for (const row of rows) {
      if (row.what === 'token') {
        nextTokenIds.add(row.name);
        continue;
      }
      const entry = { disabled: row.disabled, at: row.at === null ? 0 : Date.parse(row.at) };
      (row.what === 'user' ? nextUsers : nextClients).set(row.name, entry);
    }
    users = nextUsers;
    clients = nextClients;
    tokenIds = nextTokenIds;
    loadedAt = now();
  };

  const current = async () => {
    if (now() - loadedAt < REFRESH_MS) return;
    loading ??= load().finally(() => {
      loading = undefined;
    });
    await loading;
  };

  const refuses = (entry: Revoked | undefined, issuedAt: number | undefined) =>
    entry !== undefined && (entry.disabled || issuedAt === undefined || issuedAt * 1000 <= entry.at);

  return {
    async revoked(principal: Principal) {
      await current();
      if (principal.tokenId !== undefined && tokenIds.has(principal.tokenId)) return true;
      if (refuses(clients.get(principal.clientId), principal.issuedAt)) return true;
      return principal.kind !== 'system' && refuses(users.get(principal.subject), principal.issuedAt);
    },
  };
}

/** `medledger user disable`: the user can no longer log in, and their tokens stop working. */
export async function disableUser(db: Queryable, username: string): Promise<boolean> {
  const rows = await db.query(
    'UPDATE access_users SET disabled = true, tokens_revoked_at = now() WHERE username = $1 RETURNING 1',
    [username],
  );
  return rows.length > 0;
}

/** `medledger user enable`: the user may log in again; tokens issued before the disable stay refused. */
export async function enableUser(db: Queryable, username: string): Promise<boolean> {
  const rows = await db.query('UPDATE access_users SET disabled = false WHERE username = $1 RETURNING 1', [
    username,
  ]);
  return rows.length > 0;
}

/** `medledger client revoke`: the client gets no more tokens, and its tokens stop working. */
export async function revokeClient(db: Queryable, clientId: string): Promise<boolean> {
  const rows = await db.query(
    'UPDATE access_clients SET disabled = true, tokens_revoked_at = now() WHERE client_id = $1 RETURNING 1',
    [clientId],
  );
  return rows.length > 0;
}
