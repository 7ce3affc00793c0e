/** The minimal server-rendered login form of the code flow; every value is HTML-escaped. */
import type { AuthorizeParameters } from './authorizeRequest.ts';

export const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

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
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>medledger sign in</title></head>
<body>
  <h1>Sign in</h1>
  <p>${escapeHtml(parameters.clientId)} asks for: ${escapeHtml(parameters.scope)}</p>
  ${message === undefined ? '' : `<p role="alert">${escapeHtml(message)}</p>`}
  <form method="post" action="/auth/authorize">
    ${fields}
    <label>Username <input name="username" autocomplete="username" required></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Sign in</button>
  </form>
</body></html>`;
}
