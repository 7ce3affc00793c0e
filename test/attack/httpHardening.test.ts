import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokensFor } from '../../src/access/accessTokensFor.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
import { freePort } from '../../src/chain/embeddedAnvil.ts';
import { loadConfig } from '../../src/config/config.ts';
import { stderrLogger } from '../../src/config/logger.ts';
import { ConfigError } from '../../src/errors/MedledgerError.ts';
import { type RunningNode, startNode } from '../../src/node/startNode.ts';
import { createServer } from '../../src/server/createServer.ts';
import { embeddedTemplate } from '../../src/store/testing/embeddedTemplate.ts';
import { makeCertificate } from '../support/selfSignedCertificate.ts';
import { isOperationOutcome } from './support/rawRequest.ts';

const RATE_LIMIT = 30;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json: unknown;
}

describe('HTTP hardening: TLS, security headers, size limits, rate limiting', () => {
  let dir: string;
  let node: RunningNode;
  let app: FastifyInstance;
  let port: number;
  let cert: Buffer;
  let admin: (clientId: string) => Promise<string>;

  function send(
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: string | Buffer,
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port, method, path, headers, ca: cert, servername: 'localhost' },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let json: unknown;
            try {
              json = JSON.parse(text);
            } catch {}
            resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
          });
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medledger-tls-'));
    const made = makeCertificate(dir, 'localhost', 'DNS:localhost,IP:127.0.0.1');
    cert = readFileSync(made.cert);
    port = await freePort();
    const config = loadConfig(
      {
        'data-dir': join(dir, 'data'),
        port: String(port),
        'tls-cert': made.cert,
        'tls-key': made.key,
      },
      { MEDLEDGER_RATE_LIMIT_PER_MINUTE: String(RATE_LIMIT), MEDLEDGER_BATCH_MAX_DELAY_MS: '200' },
    );
    node = await startNode({
      config,
      logger: stderrLogger({ quiet: true }),
      embeddedTemplate: await embeddedTemplate(),
    });
    app = await createServer(node);
    await app.listen({ port, host: '127.0.0.1' });
    const tokens = await accessTokensFor(node);
    admin = (clientId) => bearer(tokens, { kind: 'system', scope: 'system/*.cruds', clientId });
  }, 120_000);
  afterAll(async () => {
    await app?.close().catch(() => {});
    await node?.stop().catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('configuration: TLS needs both files, the public URL becomes https, the rate limit is validated', () => {
    expect(() => loadConfig({ 'tls-cert': 'cert.pem' }, {})).toThrow(ConfigError);
    expect(() => loadConfig({}, { MEDLEDGER_TLS_KEY: 'key.pem' })).toThrow(/--tls-cert/);
    const config = loadConfig({ 'tls-cert': 'c.pem', 'tls-key': 'k.pem', port: '9443' }, {});
    expect(config.publicUrl).toBe('https://127.0.0.1:9443');
    expect(loadConfig({}, {}).rateLimitPerMinute).toBeGreaterThanOrEqual(10_000);
    expect(() => loadConfig({}, { MEDLEDGER_RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(ConfigError);
    expect(loadConfig({}, { MEDLEDGER_RATE_LIMIT_PER_MINUTE: '0' }).rateLimitPerMinute).toBe(0);
  });

  it('HTTP over TLS works, with the certificate verified, and negotiates TLS 1.2 or 1.3', async () => {
    const health = await send('GET', '/healthz');
    expect(health.status).toBe(200);
    const protocol = await new Promise<string | null>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, ca: cert, servername: 'localhost' }, () => {
        resolve(socket.getProtocol());
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(['TLSv1.2', 'TLSv1.3']).toContain(protocol);
  });

  it('a TLS 1.1 (and 1.0) handshake is refused by the server', async () => {
    for (const version of ['TLSv1', 'TLSv1.1'] as const) {
      const error = await new Promise<Error | undefined>((resolve) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port,
          minVersion: version,
          maxVersion: version,
          // Let the client offer the old protocol (OpenSSL 3 refuses it at security level 1).
          ciphers: 'DEFAULT@SECLEVEL=0',
          rejectUnauthorized: false,
        });
        socket.on('secureConnect', () => {
          socket.end();
          resolve(undefined);
        });
        socket.on('error', resolve);
      });
      expect(error, version).toBeDefined();
      // The server's alert, not a client that could not even offer the version.
      expect(error?.message, version).toMatch(/alert protocol version|unsupported protocol/i);
    }
  });

  it('plain HTTP to the TLS port gets no data', async () => {
    const answer = await fetch(`http://127.0.0.1:${port}/healthz`).then(
      async (r) => ({ status: r.status, text: await r.text() }),
      () => undefined,
    );
    expect(answer?.text ?? '').not.toContain('"ready"');
  });

  it('sets the helmet security headers and Cache-Control: no-store on PHI and errors', async () => {
    const authorization = await admin('headers-client');
    const created = await send(
      'POST',
      '/fhir/Patient',
      { authorization, 'content-type': 'application/fhir+json' },
      JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Headers' }] }),
    );
    expect(created.status).toBe(201);
    const id = (created.json as { id: string }).id;
    const answers = [
      created,
      await send('GET', `/fhir/Patient/${id}`, { authorization }),
      await send('GET', `/fhir/Patient?_id=${id}`, { authorization }),
      await send('GET', `/fhir/Patient/${id}/$everything`, { authorization }),
      await send('GET', `/fhir/Patient/${id}/$access-report`, { authorization }),
      await send('GET', `/fhir/Patient/${id}`), // 401
      await send('GET', '/fhir/Nope/1', { authorization }), // 404
      await send('GET', '/no-such-route'),
      await send('GET', '/healthz'),
    ];
    for (const a of answers) {
      expect(a.headers['strict-transport-security']).toMatch(/max-age=\d+/);
      expect(a.headers['x-content-type-options']).toBe('nosniff');
      expect(a.headers['x-frame-options']).toBe('SAMEORIGIN');
      expect(a.headers['referrer-policy']).toBe('no-referrer');
      expect(a.headers['cross-origin-opener-policy']).toBe('same-origin');
      expect(a.headers['cross-origin-resource-policy']).toBe('same-origin');
      expect(a.headers['x-dns-prefetch-control']).toBe('off');
      expect(a.headers['x-permitted-cross-domain-policies']).toBe('none');
      expect(a.headers['origin-agent-cluster']).toBe('?1');
      expect(a.headers['x-powered-by']).toBeUndefined();
      expect(a.headers['cache-control']).toBe('no-store');
    }
    for (const a of answers.slice(5, 8)) expect(isOperationOutcome(a.json)).toBe(true);
    // Public by design: SMART discovery stays cacheable.
    expect((await send('GET', '/.well-known/smart-configuration')).headers['cache-control']).toMatch(
      /public/,
    );
  });

  it('refuses oversized bodies with a 413 OperationOutcome, and the node keeps answering', async () => {
    const authorization = await admin('size-client');
    const big = await send(
      'POST',
      '/fhir/Patient',
      { authorization, 'content-type': 'application/fhir+json' },
      Buffer.alloc(17 * 1024 * 1024, 0x20),
    ).catch(() => undefined);
    // The server may close the connection while the client still uploads; if it answered, it is a 413.
    if (big) {
      expect(big.status).toBe(413);
      expect(isOperationOutcome(big.json)).toBe(true);
    }
    const claim = await send(
      'POST',
      '/fhir/Patient/x/$claim',
      { 'content-type': 'application/fhir+json' },
      JSON.stringify({ claimCode: 'x'.repeat(70 * 1024) }),
    );
    expect(claim.status).toBe(413);
    expect(isOperationOutcome(claim.json)).toBe(true);
    const headers = await send('GET', `/fhir/Patient?name=${'x'.repeat(20_000)}`, { authorization });
    expect(headers.status).toBe(431);
    expect(isOperationOutcome(headers.json)).toBe(true);
    // Still serving. Ready may lag for a poll: /healthz is 503 while the indexer is more than one
    // block behind the head, which the anchoring of this file's writes can briefly make it.
    await expect.poll(async () => (await send('GET', '/healthz')).status, { timeout: 15_000 }).toBe(200);
  });

  it('rate-limits the FHIR API per client: 429 OperationOutcome with Retry-After, other clients unaffected', async () => {
    const greedy = await admin('greedy-client');
    const statuses: number[] = [];
    let limited: Answer | undefined;
    for (let i = 0; i < RATE_LIMIT + 5; i++) {
      const a = await send('GET', '/fhir/Patient?_count=1', { authorization: greedy });
      statuses.push(a.status);
      if (a.status === 429) limited ??= a;
    }
    expect(statuses.slice(0, RATE_LIMIT).every((s) => s === 200)).toBe(true);
    expect(statuses.slice(RATE_LIMIT)).toEqual(Array(5).fill(429));
    expect(isOperationOutcome(limited?.json)).toBe(true);
    expect((limited?.json as { issue?: { code: string }[] } | undefined)?.issue?.[0]?.code).toBe('throttled');
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0);
    expect(limited?.headers['cache-control']).toBe('no-store');

    // A new token of the same client shares its budget; another client has its own.
    expect(
      (await send('GET', '/fhir/Patient?_count=1', { authorization: await admin('greedy-client') })).status,
    ).toBe(429);
    expect(
      (await send('GET', '/fhir/Patient?_count=1', { authorization: await admin('patient-client') })).status,
    ).toBe(200);
    // Without a valid token the key is the IP, so invented tokens do not buy a fresh budget.
    const anonymous: number[] = [];
    for (let i = 0; i < RATE_LIMIT + 2; i++)
      anonymous.push((await send('GET', '/fhir/Patient', { authorization: `Bearer invented-${i}` })).status);
    // (Earlier tests spent some of this IP's budget: 401s until it is gone, then only 429s.)
    const firstLimited = anonymous.indexOf(429);
    expect(firstLimited).toBeGreaterThan(RATE_LIMIT / 2);
    expect(anonymous.slice(0, firstLimited).every((s) => s === 401)).toBe(true);
    expect(anonymous.slice(firstLimited).every((s) => s === 429)).toBe(true);
    // Readiness is never rate-limited (the budget is spent: a limited route would stay 429).
    await expect.poll(async () => (await send('GET', '/healthz')).status, { timeout: 15_000 }).toBe(200);
  });
});
