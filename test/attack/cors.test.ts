/**
 * Issue 20, "no CORS": every browser SMART app on another origin failed at discovery. Now the
 * discovery document, the token endpoint and the FHIR API answer cross-origin requests and their
 * preflights, shown over HTTP and from a page of another origin in Debian's Chromium.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

describe('CORS for browser apps on other origins', () => {
  let t: TestNode;
  let base: string;
  let app: Server;
  let appOrigin: string;
  let browser: Browser;
  let patient: string;
  let token: string;

  beforeAll(async () => {
    [t, browser] = await Promise.all([
      startTestNode(),
      chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
      }),
    ]);
    base = t.fhirUrl.replace(/\/fhir$/, '');
    const authorization = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    token = authorization.replace(/^Bearer /, '');
    patient = await t.create({ resourceType: 'Patient', name: [{ family: 'Cors' }] }, authorization);
    // A page of another origin: "localhost" against the node's 127.0.0.1, on its own port.
    app = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
    });
    await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://localhost:${(app.address() as AddressInfo).port}`;
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    app?.close();
    await t?.stop();
  });

  it('a preflight is answered with the methods and headers a FHIR client sends', async () => {
    const r = await fetch(`${t.fhirUrl}/Patient`, {
      method: 'OPTIONS',
      headers: {
        origin: appOrigin,
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, prefer',
      },
    });
    expect(r.status).toBeLessThan(300);
    expect(r.headers.get('access-control-allow-origin')).toBe('*');
    expect(r.headers.get('access-control-allow-methods')).toContain('POST');
    expect(r.headers.get('access-control-allow-headers')).toContain('authorization');
    const metadata = await fetch(`${t.fhirUrl}/metadata`, { headers: { origin: appOrigin } });
    expect(metadata.headers.get('access-control-allow-origin')).toBe('*');
    const statement = (await metadata.json()) as { rest: { security: { cors: boolean } }[] };
    expect(statement.rest[0]?.security.cors).toBe(true);
  });

  it('from a page of another origin, Chromium reads discovery and, with a bearer token, the FHIR API', async () => {
    const page = await browser.newPage();
    await page.goto(appOrigin);
    const result = await page.evaluate(
      async ({ base, token, patient }) => {
        const discovery = await fetch(`${base}/.well-known/smart-configuration`).then((r) => r.json());
        const read = await fetch(`${base}/fhir/Patient/${patient}`, {
          headers: { authorization: `Bearer ${token}`, accept: 'application/fhir+json' },
        });
        const created = await fetch(`${base}/fhir/Observation`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/fhir+json' },
          body: JSON.stringify({
            resourceType: 'Observation',
            status: 'final',
            code: { text: 'from a browser app' },
            subject: { reference: `Patient/${patient}` },
          }),
        });
        return {
          tokenEndpoint: discovery.token_endpoint as string,
          status: read.status,
          family: (await read.json()).name?.[0]?.family as string,
          created: created.status,
          location: created.headers.get('location'),
        };
      },
      { base, token, patient },
    );
    expect(result.tokenEndpoint).toBe(`${base}/auth/token`);
    expect(result.status).toBe(200);
    expect(result.family).toBe('Cors');
    expect(result.created).toBe(201);
    expect(result.location).toContain('/fhir/Observation/');
    await page.close();
  });
});
