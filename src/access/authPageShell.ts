/**
 * The look of the authorization server's own pages (login, patient picker): the portal's colours
 * and type, a mobile viewport, and the scopes an application asks for said in words.
 * Scope syntax: SMART App Launch 2.0, https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html
 */
/** Text made safe inside HTML (elements and attribute values). */
export const escapeHtml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const STYLE = `
:root{--ink:#14202b;--muted:#475462;--line:#cfd7df;--bg:#f5f7f9;--card:#fff;--accent:#0b5cad;--bad:#a1151b;--bad-bg:#fde7e8;--focus:#ffbf47;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:16px;line-height:1.5;color:var(--ink);background:var(--bg)}
*{box-sizing:border-box}body{margin:0}
header{background:#0f2a44;color:#fff;padding:.6rem 1rem;font-weight:600}
main{max-width:28rem;margin:1.5rem auto;padding:0 1rem}
h1{font-size:1.5rem;margin:.5rem 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:1rem;margin:.75rem 0}
form.card{display:flex;flex-direction:column;gap:.35rem}
label{font-weight:600}
input{font:inherit;padding:.55rem .6rem;border:1px solid #6b7885;border-radius:6px;width:100%}
button{font:inherit;padding:.6rem 1.2rem;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;margin-top:.5rem}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.alert{background:var(--bad-bg);color:var(--bad);border:1px solid var(--bad);border-radius:8px;padding:.5rem .75rem}
.hint{color:var(--muted);font-size:.9rem}
ul.scopes{margin:.25rem 0 0;padding-left:1.2rem}
ul.picks{list-style:none;padding:0;display:flex;flex-direction:column;gap:.5rem}
ul.picks button{width:100%;text-align:left;background:#fff;color:var(--ink);border-color:var(--line)}
`;

export function authPage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
<header><span aria-hidden="true">◆</span> medledger</header>
<main>
${body}
</main>
</body></html>`;
}

const ACTIONS: Readonly<Record<string, string>> = {
  c: 'create',
  r: 'read',
  u: 'update',
  d: 'delete',
  s: 'search',
};

/** The name people know a client by: the portal's own, else its id in quotes. */
export const clientName = (clientId: string) =>
  clientId === 'medledger-portal' ? 'The medledger portal' : `The application “${clientId}”`;

/** One sentence per scope: "read and search your records", "know who you are". */
export function scopeInWords(scope: string): string {
  if (scope === 'openid') return 'confirm that it is you signing in';
  if (scope === 'fhirUser')
    return 'know which person you are in the records (your patient or practitioner record)';
  if (scope === 'offline_access') return 'stay signed in after you close it';
  if (scope === 'online_access') return 'stay signed in while you use it';
  if (scope === 'launch/patient') return 'open on one patient';
  if (scope === 'launch') return 'open from your health record system';
  const match = /^(patient|user|system)\/([A-Za-z*]+)\.([cruds]+|read|write|\*)$/.exec(scope);
  if (!match) return `the permission “${scope}”`;
  const [, context, type, rawActions] = match as unknown as [string, string, string, string];
  const actions =
    rawActions === 'read'
      ? ['read', 'search']
      : rawActions === 'write'
        ? ['create', 'update', 'delete']
        : rawActions === '*'
          ? ['create', 'read', 'update', 'delete', 'search']
          : [...rawActions].map((a) => ACTIONS[a] ?? a);
  const what = type === '*' ? 'records' : `${type} records`;
  const whose =
    context === 'patient'
      ? `your ${what}`
      : context === 'user'
        ? `the ${what} you may see`
        : `${what} as a system`;
  const list = actions.length > 1 ? `${actions.slice(0, -1).join(', ')} and ${actions.at(-1)}` : actions[0];
  return `${list} ${whose}`;
}

export function scopeList(scope: string): string {
  const items = scope
    .split(/\s+/)
    .filter(Boolean)
    .map((s) => `<li>${escapeHtml(scopeInWords(s))}</li>`)
    .join('');
  return `<ul class="scopes">${items}</ul>`;
}
