/**
 * Responses carry protected health information unless a route says otherwise, so every
 * response that set no `Cache-Control` of its own gets `no-store` (and `Pragma: no-cache` for
 * HTTP/1.0 caches): no browser, proxy or CDN keeps a copy. Routes that are public by design
 * (SMART discovery) set their own caching.
 * @see https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2.5
 */
import type { FastifyInstance } from 'fastify';

export function noStoreByDefault(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    if (!reply.hasHeader('cache-control')) {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    }
    return payload;
  });
}
