/**
 * Access tokens this node issues and checks: JWTs signed with the node's ES256 key
 * (generated once into `<dataDir>/keys/token-signing.jwk`, mode 0600). Verification is on
 * the path of every FHIR request, so the imported key is kept and `verify` does no I/O.
 * Claims follow SMART App Launch 2.x: `scope`, `client_id`, `patient`, `fhirUser`, plus
 * `medledger_address` (chain address) and `medledger_kind`. The same key signs OpenID Connect
 * id_tokens; its public half is published at `/auth/jwks` for apps to check them.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, type JWK, jwtVerify, SignJWT } from 'jose';
import { AccessError } from './AccessError.ts';
import { PRINCIPAL_KINDS, type Principal, type PrincipalKind } from './Principal.ts';
import { parseScopes } from './scopes.ts';

const ALG = 'ES256';
/**
 * Tokens already verified, until they expire: an ES256 verification is about 0.1 ms of every
 * request, and a client sends the same token until it expires. The cache holds only what `verify`
 * returned for that exact token string; the expiry is checked again on every hit. Bounded: the
 * oldest entry goes first.
 */
const VERIFIED_MAX = 10_000;

export interface AccessTokenClaims {
  kind: Principal['kind'];
  subject: string;
  clientId: string;
  scope: string;
  lifetimeSeconds: number;
  address?: string | undefined;
  patient?: string | undefined;
  fhirUser?: string | undefined;
  purposeOfUse?: string | undefined;
  internal: boolean;
}

/** Whether a verified token's user or client has been revoked since it was issued. */
export interface TokenRevocations {
  revoked(principal: Principal): Promise<boolean>;
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  /** The token's `jti`: what /auth/revoke records to end it early. */
  tokenId: string;
}

/** Claims of an OpenID Connect id_token (OIDC Core §2; SMART's `fhirUser`, an absolute URL). */
export interface IdTokenClaims {
  subject: string;
  /** The client_id: the id_token's audience. */
  clientId: string;
  nonce?: string | undefined;
  fhirUser?: string | undefined;
  lifetimeSeconds: number;
}

export class AccessTokens {
  readonly issuer: string;
  /** The FHIR base URL: the audience of every token. */
  readonly audience: string;
  readonly #privateKey: CryptoKey;
  readonly #publicKey: CryptoKey;
  readonly #kid: string;
  readonly #publicJwk: JWK;
  readonly #verified = new Map<string, Principal>();

  private constructor(
    issuer: string,
    privateKey: CryptoKey,
    publicKey: CryptoKey,
    kid: string,
    publicJwk: JWK,
  ) {
    this.issuer = issuer;
    this.audience = `${issuer}/fhir`;
    this.#privateKey = privateKey;
    this.#publicKey = publicKey;
    this.#kid = kid;
    this.#publicJwk = publicJwk;
  }

  /** The public key set apps check id_tokens (and resource servers access tokens) against. */
  jwks(): { keys: JWK[] } {
    const { kty, crv, x, y } = this.#publicJwk;
    return { keys: [{ kty, crv, x, y, kid: this.#kid, alg: ALG, use: 'sig' } as JWK] };
  }

  /** A throw-away key (tests, or nodes that prefer tokens not to survive restarts). */
  static async ephemeral(issuer: string): Promise<AccessTokens> {
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    return AccessTokens.fromJwk(issuer, await exportJWK(privateKey));
  }

  /** Loads the node's token key from `<dataDir>/keys/`, creating it on first use. */
  static async load(dataDir: string, issuer: string): Promise<AccessTokens> {
    const dir = join(dataDir, 'keys');
    const path = join(dir, 'token-signing.jwk');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      return await AccessTokens.fromJwk(issuer, JSON.parse(await readFile(path, 'utf8')) as JWK);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const jwk = await exportJWK(privateKey);
    // 'wx': never overwrite a key another process created in the meantime.
    await writeFile(path, JSON.stringify(jwk), { mode: 0o600, flag: 'wx' }).catch(
      (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      },
    );
    return AccessTokens.fromJwk(issuer, JSON.parse(await readFile(path, 'utf8')) as JWK);
  }

  static async fromJwk(issuer: string, jwk: JWK): Promise<AccessTokens> {
    const { d: _d, ...publicJwk } = jwk;
    const privateKey = (await importJWK({ ...jwk, alg: ALG }, ALG)) as CryptoKey;
    const publicKey = (await importJWK({ ...publicJwk, alg: ALG }, ALG)) as CryptoKey;
    return new AccessTokens(
      issuer.replace(/\/+$/, ''),
      privateKey,
      publicKey,
      `${jwk.x?.slice(0, 16)}`,
      publicJwk,
    );
  }

  async issue(claims: AccessTokenClaims): Promise<IssuedToken> {
    const tokenId = randomUUID();
    const accessToken = await new SignJWT({
      scope: claims.scope,
      client_id: claims.clientId,
      medledger_kind: claims.kind,
      medledger_internal: claims.internal,
      ...(claims.address === undefined ? {} : { medledger_address: claims.address }),
      ...(claims.patient === undefined ? {} : { patient: claims.patient }),
      ...(claims.fhirUser === undefined ? {} : { fhirUser: claims.fhirUser }),
      ...(claims.purposeOfUse === undefined ? {} : { purpose_of_use: claims.purposeOfUse }),
    })
      .setProtectedHeader({ alg: ALG, typ: 'at+jwt', kid: this.#kid })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(claims.subject)
      .setJti(tokenId)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + claims.lifetimeSeconds)
      .sign(this.#privateKey);
    return { accessToken, expiresIn: claims.lifetimeSeconds, tokenId };
  }

  /** An OpenID Connect id_token for the app (`openid` scope): who logged in, for that client only. */
  async issueIdToken(claims: IdTokenClaims): Promise<string> {
    return new SignJWT({
      ...(claims.nonce === undefined ? {} : { nonce: claims.nonce }),
      ...(claims.fhirUser === undefined ? {} : { fhirUser: claims.fhirUser }),
    })
      .setProtectedHeader({ alg: ALG, typ: 'JWT', kid: this.#kid })
      .setIssuer(this.issuer)
      .setAudience(claims.clientId)
      .setSubject(claims.subject)
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + claims.lifetimeSeconds)
      .sign(this.#privateKey);
  }

  /**
   * Where disabled users and revoked clients are looked up (the node's database): a token of
   * either, issued before the revocation, is refused from then on.
   */
  checkRevocations(revocations: TokenRevocations): void {
    this.#revocations = revocations;
  }
  #revocations: TokenRevocations | undefined;

  /**
   * Verifies a token this node issued; throws ERR_ACCESS_TOKEN_INVALID for anything else, and
   * ERR_ACCESS_TOKEN_REVOKED for a token of a user disabled or a client revoked since.
   */
  async verify(token: string): Promise<Principal> {
    const principal = await this.#verifiedOnce(token);
    if (await this.#revocations?.revoked(principal))
      throw new AccessError('ERR_ACCESS_TOKEN_REVOKED', 'the access token was revoked');
    return principal;
  }

  async #verifiedOnce(token: string): Promise<Principal> {
    const known = this.#verified.get(token);
    if (known) {
      if (known.expiresAt > Date.now() / 1000) return { ...known };
      this.#verified.delete(token);
    }
    const principal = await this.#verifySignedToken(token);
    if (this.#verified.size >= VERIFIED_MAX)
      this.#verified.delete(this.#verified.keys().next().value as string);
    this.#verified.set(token, principal);
    return { ...principal };
  }

  async #verifySignedToken(token: string): Promise<Principal> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(token, this.#publicKey, {
        algorithms: [ALG],
        issuer: this.issuer,
        audience: this.audience,
        typ: 'at+jwt',
        requiredClaims: ['exp', 'sub', 'scope', 'client_id'],
      }));
    } catch (error) {
      throw new AccessError('ERR_ACCESS_TOKEN_INVALID', 'the access token is invalid or expired', error);
    }
    const kind = payload.medledger_kind;
    if (!PRINCIPAL_KINDS.includes(kind as PrincipalKind)) {
      throw new AccessError('ERR_ACCESS_TOKEN_INVALID', 'the access token is invalid or expired');
    }
    const scope = String(payload.scope);
    const text = (name: string) =>
      typeof payload[name] === 'string' ? (payload[name] as string) : undefined;
    const principal: Principal = {
      kind: kind as PrincipalKind,
      context: kind === 'system' ? 'system' : kind === 'patient' ? 'patient' : 'user',
      subject: String(payload.sub),
      clientId: String(payload.client_id),
      scope,
      scopes: parseScopes(scope),
      internal: payload.medledger_internal === true,
      expiresAt: Number(payload.exp),
      ...(typeof payload.iat === 'number' ? { issuedAt: payload.iat } : {}),
      ...(typeof payload.jti === 'string' ? { tokenId: payload.jti } : {}),
    };
    const address = text('medledger_address');
    const patient = text('patient');
    const fhirUser = text('fhirUser');
    const purposeOfUse = text('purpose_of_use');
    if (address !== undefined) principal.address = address;
    if (patient !== undefined) principal.patient = patient;
    if (fhirUser !== undefined) principal.fhirUser = fhirUser;
    if (purposeOfUse !== undefined) principal.purposeOfUse = purposeOfUse;
    return principal;
  }

  /** Reads `Authorization: Bearer <token>` and verifies it. */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    const match = authorization === undefined ? null : /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match)
      throw new AccessError(
        'ERR_ACCESS_TOKEN_MISSING',
        'an access token is required (Authorization: Bearer ...)',
      );
    return this.verify(match[1]!);
  }
}
