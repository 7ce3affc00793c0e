import { describe, expect, it } from 'vitest';
import { AccessTokens } from './AccessTokens.ts';

const claims = {
  kind: 'system' as const,
  subject: 'client-1',
  clientId: 'client-1',
  scope: 'system/*.rs',
  internal: false,
};

describe('access tokens', () => {
  it('a verified token is remembered only until it expires, and a changed token is never taken for it', async () => {
    const tokens = await AccessTokens.ephemeral('http://127.0.0.1:1');
    const { accessToken } = await tokens.issue({ ...claims, lifetimeSeconds: 2 });
    const first = await tokens.verify(accessToken);
    expect(first.subject).toBe('client-1');
    // A caller changing what it got back does not change what the next request gets.
    first.scope = 'system/*.cruds';
    expect((await tokens.verify(accessToken)).scope).toBe('system/*.rs');
    // One changed character of the signature: verified afresh, and refused.
    const last = accessToken.at(-2) === 'A' ? 'B' : 'A';
    const tampered = `${accessToken.slice(0, -2)}${last}${accessToken.slice(-1)}`;
    await expect(tokens.verify(tampered)).rejects.toMatchObject({ code: 'ERR_ACCESS_TOKEN_INVALID' });
    // Past its expiry the remembered token is refused like any other expired token.
    await new Promise((resolve) => setTimeout(resolve, 3100));
    await expect(tokens.verify(accessToken)).rejects.toMatchObject({ code: 'ERR_ACCESS_TOKEN_INVALID' });
  });

  it('a token from another key is refused', async () => {
    const ours = await AccessTokens.ephemeral('http://127.0.0.1:1');
    const theirs = await AccessTokens.ephemeral('http://127.0.0.1:1');
    const { accessToken } = await theirs.issue({ ...claims, lifetimeSeconds: 60 });
    await expect(ours.verify(accessToken)).rejects.toMatchObject({ code: 'ERR_ACCESS_TOKEN_INVALID' });
  });
});
