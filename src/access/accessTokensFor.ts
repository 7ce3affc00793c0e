/** The node's token issuer/verifier, loaded once per node context and shared by every route. */
import type { Config } from '../config/config.ts';
import type { Queryable } from '../store/db.ts';
import { AccessTokens } from './AccessTokens.ts';
import { databaseRevocations } from './revocations.ts';

export interface TokenKeyContext {
  config: Pick<Config, 'dataDir' | 'publicUrl'>;
  /** With the node's database, tokens of disabled users and revoked clients are refused. */
  db?: Queryable;
}

const loaded = new WeakMap<TokenKeyContext, Promise<AccessTokens>>();

export function accessTokensFor(ctx: TokenKeyContext): Promise<AccessTokens> {
  let tokens = loaded.get(ctx);
  if (!tokens) {
    const { db } = ctx;
    tokens = AccessTokens.load(ctx.config.dataDir, ctx.config.publicUrl).then((loadedTokens) => {
      if (db) loadedTokens.checkRevocations(databaseRevocations(db));
      return loadedTokens;
    });
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
    revocationEndpoint: `${base}/auth/revoke`,
    introspectionEndpoint: `${base}/auth/introspect`,
    jwksUri: `${base}/auth/jwks`,
    launchEndpoint: `${base}/auth/launch`,
  };
}
