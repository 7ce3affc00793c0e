import { describe, expect, it } from 'vitest';
import { scopeInWords, scopeList } from './authPageShell.ts';
import { loginPage } from './loginPage.ts';

describe('the login page', () => {
  it('says the scopes an application asks for in words', () => {
    expect(scopeInWords('patient/*.rs')).toBe('read and search your records');
    expect(scopeInWords('user/Observation.cruds')).toBe(
      'create, read, update, delete and search the Observation records you may see',
    );
    expect(scopeInWords('openid')).toBe('confirm that it is you signing in');
    expect(scopeInWords('weird<scope>')).toBe('the permission “weird<scope>”');
    expect(scopeList('weird<scope>')).toContain('weird&lt;scope&gt;');
  });

  it('is styled like the portal, fits a phone, and labels its fields', () => {
    const html = loginPage({
      clientId: 'medledger-portal',
      redirectUri: 'http://127.0.0.1/portal/',
      scope: 'openid fhirUser patient/*.cruds',
      state: 's',
      codeChallenge: 'c',
    } as Parameters<typeof loginPage>[0]);
    expect(html).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
    expect(html).toContain('<style>');
    expect(html).toContain('The medledger portal');
    expect(html).toContain('<li>create, read, update, delete and search your records</li>');
    expect(html).not.toContain('patient/*.cruds</p>');
    expect(html).toMatch(/<label for="username">Username<\/label>/);
  });
});
