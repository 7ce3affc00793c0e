/**
 * Test helper: mints an access token as the token endpoint would, without a client or a
 * login. FHIR route tests use it with the node's tokens (`await accessTokensFor(ctx)`) or
 * with `AccessTokens.ephemeral(issuer)`.
 */
import type { AccessTokenClaims, AccessTokens } from '../AccessTokens.ts';

export type MintParameters = Partial<AccessTokenClaims> & Pick<AccessTokenClaims, 'kind' | 'scope'>;

export async function mintAccessToken(tokens: AccessTokens, parameters: MintParameters): Promise<string> {
  const { accessToken } = await tokens.issue({
    subject: parameters.kind === 'system' ? 'test-client' : `test-${parameters.kind}`,
    clientId: 'test-client',
    lifetimeSeconds: 300,
    internal: parameters.kind !== 'patient',
    ...parameters,
  });
  return accessToken;
}

/** `Authorization` header value for a minted token. */
export async function bearer(tokens: AccessTokens, parameters: MintParameters): Promise<string> {
  return `Bearer ${await mintAccessToken(tokens, parameters)}`;
}
