/** The server-rendered login form of the code flow; every value is HTML-escaped. */

import type { AuthorizeParameters } from './authorizeRequest.ts';
import { authPage, clientName, escapeHtml, scopeList } from './authPageShell.ts';

/** The authorize request's parameters as hidden form fields, so a POST carries the same request. */
export function authorizeFields(parameters: AuthorizeParameters): string {
  const hidden: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: parameters.clientId,
    redirect_uri: parameters.redirectUri,
    scope: parameters.scope,
    state: parameters.state,
    code_challenge: parameters.codeChallenge,
    code_challenge_method: 'S256',
    aud: parameters.aud,
    nonce: parameters.nonce,
    launch: parameters.launch,
  };
  return Object.entries(hidden)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v!)}">`)
    .join('\n    ');
}

export function loginPage(parameters: AuthorizeParameters, message?: string): string {
  const fields = authorizeFields(parameters);
  return authPage(
    'medledger sign in',
    `<h1>Sign in</h1>
  <section class="card" aria-labelledby="asks">
    <p id="asks"><strong>${escapeHtml(clientName(parameters.clientId))}</strong> asks to:</p>
    ${scopeList(parameters.scope)}
    <p class="hint">Only what your role and the patients' consents allow is ever shown; every access is recorded.</p>
  </section>
  ${message === undefined ? '' : `<p class="alert" role="alert">${escapeHtml(message)}</p>`}
  <form class="card" method="post" action="/auth/authorize">
    ${fields}
    <label for="username">Username</label>
    <input id="username" name="username" autocomplete="username" autocapitalize="none" required>
    <label for="password">Password</label>
    <input id="password" name="password" type="password" autocomplete="current-password" required>
    <button type="submit">Sign in</button>
  </form>`,
  );
}
