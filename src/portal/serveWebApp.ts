/**
 * Serves the built web portal (`web/dist`, made by `npm run build:web`) under `/portal/`: files
 * by path with their content type, `index.html` for every other path under `/portal/` (the app
 * routes itself), long caching for Vite's hashed assets. When the app was never built the
 * portal answers 503 with a page that says how to build it, rather than a blank screen.
 */
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, resolve, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build:web` writes the app. */
export const WEB_DIST_DIR = resolve(import.meta.dirname, '../../web/dist');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
};

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>medledger portal</title></head>
<body><main><h1>The web portal is not built</h1>
<p>Build it once with <code>npm run build:web</code> (it runs by itself on <code>npm install</code> and
on <code>medledger start</code> when <code>web/dist</code> is missing), then reload this page.</p></main></body></html>`;

/**
 * The portal holds a patient's unlocked key in the tab: no script but the app's own files runs
 * (no inline script, no eval), it talks only to this node, and it cannot be framed. Styles may be
 * inline (charts set them); they cannot run code.
 */
export const PORTAL_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "style-src 'self' 'unsafe-inline'",
  "font-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export async function serveWebApp(app: FastifyInstance, distDir = WEB_DIST_DIR): Promise<void> {
  app.get('/', (_request, reply) => reply.redirect('/portal/', 302));
  app.get('/portal', (_request, reply) => reply.redirect('/portal/', 301));
  app.get('/portal/*', async (request, reply) => {
    reply.header('content-security-policy', PORTAL_CSP);
    const wanted = (request.params as { '*': string })['*'] ?? '';
    const file = await findFile(distDir, wanted);
    if (file === undefined) {
      const index = await readFile(join(distDir, 'index.html')).catch(() => undefined);
      if (index === undefined) return reply.code(503).type(TYPES['.html']!).send(NOT_BUILT);
      return reply.header('cache-control', 'no-cache').type(TYPES['.html']!).send(index);
    }
    const immutable = wanted.startsWith('assets/');
    return reply
      .header('cache-control', immutable ? 'public, max-age=31536000, immutable' : 'no-cache')
      .type(TYPES[extname(file)] ?? 'application/octet-stream')
      .send(await readFile(file));
  });
}

/** The file under `root` the URL path names, never outside it; undefined for directories and misses. */
async function findFile(root: string, urlPath: string): Promise<string | undefined> {
  if (urlPath === '' || urlPath.includes('\0')) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath.split('?')[0]!);
  } catch {
    return undefined;
  }
  const path = normalize(join(root, decoded));
  if (!path.startsWith(root + sep)) return undefined;
  const info = await stat(path).catch(() => undefined);
  return info?.isFile() ? path : undefined;
}
