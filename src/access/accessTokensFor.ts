/** The node's token issuer/verifier, loaded once per node context and shared by every route. */
import type { Config } from '../config/config.ts';
import { AccessTokens } from './AccessTokens.ts';

export interface TokenKeyContext {
  config: Pick<Config, 'dataDir' | 'publicUrl'>;
}

const loaded = new WeakMap<TokenKeyContext, Promise<AccessTokens>>();

export function accessTokensFor(ctx: TokenKeyContext): Promise<AccessTokens> {
  let tokens = loaded.get(ctx);
  if (!tokens) {
    tokens = AccessTokens.load(ctx.config.dataDir, ctx.config.publicUrl);
    tokens.catch(() => loaded.delete(ctx));
    loaded.set(ctx, tokens);
  }
  return tokens;
}

/** Absolute URLs of this node's SMART endpoints. */
export function authEndpoints(publicUrl: string) {
  const base = publicUrl.replace(/\/+$/, '');
  return {
    issuer: base,
    fhirBaseUrl: `${base}/fhir`,
    tokenEndpoint: `${base}/auth/token`,
    authorizationEndpoint: `${base}/auth/authorize`,
  };
}
