/**
 * Token revocation (RFC 7009) at /auth/revoke: an app ends a refresh token (and with it the
 * whole rotation family) or one access token (its `jti` is refused from then on, within the
 * revocation check's refresh interval, about a second). The client authenticates as at the token
 * endpoint (client_id for public apps, a client assertion for confidential ones) and may revoke
 * only its own tokens. An unknown, foreign or already dead token is answered 200 all the same
 * (§2.2): the answer tells nothing about tokens.
 */
import { AccessError } from './AccessError.ts';
import { authenticateClient } from './authenticateClient.ts';
import type { TokenEndpointContext } from './introspectToken.ts';
import { revokeRefreshToken } from './refreshTokens.ts';

export async function revokeToken(
  ctx: TokenEndpointContext,
  form: Readonly<Record<string, string | undefined>>,
): Promise<void> {
  const { client } = await authenticateClient(ctx.db, form, ctx.tokenEndpoint);
  if (!form.token) throw new AccessError('ERR_ACCESS_REQUEST_INVALID', 'token is required');
  if (await revokeRefreshToken(ctx.db, form.token, client.clientId)) return;
  if (form.token.split('.').length !== 3) return;
  const principal = await ctx.tokens.verify(form.token).catch((error: unknown) => {
    if (error instanceof AccessError) return undefined;
    throw error;
  });
  if (principal?.tokenId === undefined || principal.clientId !== client.clientId) return;
  await ctx.db.query(
    `INSERT INTO access_revoked_tokens (jti, expires_at) VALUES ($1, to_timestamp($2)) ON CONFLICT DO NOTHING`,
    [principal.tokenId, principal.expiresAt],
  );
  await ctx.db.query('DELETE FROM access_revoked_tokens WHERE expires_at < now()');
}
