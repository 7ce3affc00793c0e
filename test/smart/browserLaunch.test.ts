/**
 * Issue 20, SMART App Launch from a real browser: an app served from another origin than the
 * node (CORS limited to it by MEDLEDGER_CORS_ORIGINS), in Debian's Chromium with normal web
 * security, runs a standalone patient launch (reads the Patient and her Observations, knows its
 * user from the id_token checked against the published JWKS, refreshes its token) and an EHR
 * launch (a practitioner's launch context gives the app the patient and encounter; the app names
 * the server `localhost`, the node calls itself `127.0.0.1`), and a practitioner's standalone
 * launch through the patient picker (only the patient of their encounter is listed).
 *
 * The app runs the real fhirclient 2.6 (its browser build, as an app would load it) with a few
 * lines of its own (test/smart/fhirclientApp.js): the launch, the reads and the refresh are
 * fhirclient's; the app checks the id_token's signature against the JWKS itself.
 */
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { type Browser, chromium, type Page } from 'playwright-core';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from '../../src/access/clients.ts';
import { createUser } from '../../src/access/users.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

const PASSWORD = 'correct horse battery';
const STANDALONE_SCOPE = 'launch/patient patient/*.rs openid fhirUser offline_access';
const EHR_SCOPE = 'launch launch/patient launch/encounter user/*.rs openid fhirUser';

describe('a browser SMART app on another origin, in Chromium', () => {
  let t: TestNode;
  let browser: Browser;
  let appServer: Server;
  let appOrigin = '';
  let clientId = '';
  const ids = { patient: '', stranger: '', practitioner: '', encounter: '' };
  const carer = privateKeyToAccount(generatePrivateKey());

  beforeAll(async () => {
    const script = await readFile(new URL('./fhirclientApp.js', import.meta.url), 'utf8');
    const library = await readFile(
      createRequire(import.meta.url).resolve('fhirclient/build/fhir-client.js'),
      'utf8',
    );
    appServer = createServer((request, response) => {
      const url = new URL(request.url ?? '/', appOrigin);
      if (url.pathname === '/app.js' || url.pathname === '/fhir-client.js') {
        response
          .writeHead(200, { 'content-type': 'text/javascript' })
          .end(url.pathname === '/app.js' ? script : library);
        return;
      }
      // The launch page: the EHR (or the user) opens it with iss (and launch); it authorizes at once.
      const launch =
        url.pathname === '/launch.html'
          ? `<script>
const q = new URLSearchParams(location.search);
smart.authorize({
  iss: q.get('iss'),
  launch: q.get('launch') ?? undefined,
  clientId: ${JSON.stringify(clientId)},
  scope: q.get('scope') ?? (q.get('launch') ? ${JSON.stringify(EHR_SCOPE)} : ${JSON.stringify(STANDALONE_SCOPE)}),
  redirectUri: location.origin + '/callback.html',
});
</script>`
          : '';
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end(
          `<!doctype html><title>app</title><script src="/fhir-client.js"></script><script src="/app.js"></script>${launch}`,
        );
    });
    await new Promise<void>((resolve) => appServer.listen(0, '127.0.0.1', resolve));
    appOrigin = `http://localhost:${(appServer.address() as AddressInfo).port}`;
    [t, browser] = await Promise.all([
      startTestNode({ env: { MEDLEDGER_CORS_ORIGINS: appOrigin } }),
      chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--headless', '--no-sandbox', '--disable-gpu'],
      }),
    ]);
    const ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.patient = await t.create({ resourceType: 'Patient', name: [{ family: 'Browser' }] }, ehr);
    ids.stranger = await t.create({ resourceType: 'Patient', name: [{ family: 'Stranger' }] }, ehr);
    ids.practitioner = await t.create({ resourceType: 'Practitioner', name: [{ family: 'Carer' }] }, ehr);
    for (const text of ['heart rate', 'body weight']) {
      await t.create(
        {
          resourceType: 'Observation',
          status: 'final',
          code: { text },
          subject: { reference: `Patient/${ids.patient}` },
        },
        ehr,
      );
    }
    ids.encounter = await t.create(
      {
        resourceType: 'Encounter',
        status: 'in-progress',
        class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
        subject: { reference: `Patient/${ids.patient}` },
        participant: [{ individual: { reference: `Practitioner/${ids.practitioner}` } }],
        period: { start: new Date(Date.now() - 3600_000).toISOString() },
      },
      ehr,
    );
    const db = t.node.db;
    await createUser(db, {
      username: 'pat-browser',
      password: PASSWORD,
      role: 'patient',
      fhirId: ids.patient,
    });
    await createUser(db, {
      username: 'dr-carer',
      password: PASSWORD,
      role: 'practitioner',
      fhirId: ids.practitioner,
      address: carer.address,
    });
    clientId = (
      await createClient(db, {
        kind: 'public',
        name: 'browser app',
        scopes: `${STANDALONE_SCOPE} ${EHR_SCOPE}`,
        redirectUris: [`${appOrigin}/callback.html`],
      })
    ).clientId;
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    appServer?.close();
    await t?.stop();
  });

  /** From the app's launch page through the node's login form back to the app's callback. */
  async function launchAndLogin(
    page: Page,
    launchUrl: string,
    username: string,
    choose?: (page: Page) => Promise<void>,
  ) {
    await page.goto(launchUrl);
    await page.waitForURL(/\/auth\/authorize\?/);
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', PASSWORD);
    await page.click('button[type="submit"]');
    await choose?.(page);
    await page.waitForURL(`${appOrigin}/callback.html?**`);
    return page.evaluate(() =>
      (window as unknown as { smart: { ready(): Promise<Record<string, string>> } }).smart.ready(),
    );
  }

  type Smart = {
    context(): Record<string, string | undefined>;
    request(path: string): Promise<Record<string, unknown>>;
    user(): Promise<Record<string, unknown>>;
    refresh(): Promise<Record<string, string>>;
  };

  it('standalone patient launch: reads the Patient and Observations, knows its user, refreshes', async () => {
    const page = await browser.newPage();
    const tokens = await launchAndLogin(
      page,
      `${appOrigin}/launch.html?iss=${encodeURIComponent(t.fhirUrl)}`,
      'pat-browser',
    );
    expect(tokens).toMatchObject({ patient: ids.patient, token_type: 'Bearer' });
    expect(tokens.scope).toBe('patient/*.rs launch/patient openid fhirUser offline_access');
    expect(tokens.refresh_token).toBeTruthy();
    const result = await page.evaluate(async (patient) => {
      const smart = (window as unknown as { smart: Smart }).smart;
      const read = await smart.request(`Patient/${patient}`);
      const observations = await smart.request(`Observation?patient=${patient}`);
      const user = await smart.user();
      const context = smart.context();
      const refreshed = await smart.refresh();
      const again = await smart.request(`Patient/${patient}`);
      return { read, observations, user, context, refreshed, again };
    }, ids.patient);
    // fhirclient's own view of the launch: the patient, and the user from the id_token.
    expect(result.context).toMatchObject({ patient: ids.patient, userType: 'Patient', userId: ids.patient });
    expect((result.read as { name: { family: string }[] }).name[0]!.family).toBe('Browser');
    const bundle = result.observations as { entry?: { resource: { code: { text: string } } }[] };
    expect(bundle.entry?.map((e) => e.resource.code.text).sort()).toEqual(['body weight', 'heart rate']);
    expect(result.user).toMatchObject({
      sub: 'pat-browser',
      fhirUser: `${t.fhirUrl}/Patient/${ids.patient}`,
    });
    expect(result.refreshed.access_token).not.toBe(tokens.access_token);
    expect(result.refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(result.refreshed.patient).toBe(ids.patient);
    expect((result.again as { id: string }).id).toBe(ids.patient);
    await page.close();
  });

  it('EHR launch: the practitioner launches the app on a patient and encounter', async () => {
    // The EHR, for its signed-in practitioner, creates the launch context.
    const practitioner = await t.bearer({ kind: 'practitioner', subject: 'dr-carer', scope: 'user/*.rs' });
    const created = await fetch(`${t.fhirUrl.replace(/\/fhir$/, '')}/auth/launch`, {
      method: 'POST',
      headers: { authorization: practitioner, 'content-type': 'application/json' },
      body: JSON.stringify({ patient: ids.patient, encounter: ids.encounter }),
    });
    expect(created.status).toBe(201);
    const { launch } = (await created.json()) as { launch: string };
    const iss = t.fhirUrl.replace('127.0.0.1', 'localhost');
    const page = await browser.newPage();
    const tokens = await launchAndLogin(
      page,
      `${appOrigin}/launch.html?iss=${encodeURIComponent(iss)}&launch=${encodeURIComponent(launch)}`,
      'dr-carer',
    );
    expect(tokens).toMatchObject({
      patient: ids.patient,
      encounter: ids.encounter,
      fhirUser: `Practitioner/${ids.practitioner}`,
    });
    const result = await page.evaluate(
      async ({ patient, encounter }) => {
        const smart = (window as unknown as { smart: Smart }).smart;
        return {
          patient: await smart.request(`Patient/${patient}`),
          encounter: await smart.request(`Encounter/${encounter}`),
          user: await smart.user(),
          context: smart.context(),
        };
      },
      { patient: ids.patient, encounter: ids.encounter },
    );
    expect((result.patient as { id: string }).id).toBe(ids.patient);
    expect((result.encounter as { status: string }).status).toBe('in-progress');
    expect(result.context).toMatchObject({
      patient: ids.patient,
      encounter: ids.encounter,
      userType: 'Practitioner',
      userId: ids.practitioner,
    });
    expect(result.user).toMatchObject({
      sub: 'dr-carer',
      fhirUser: `${t.fhirUrl}/Practitioner/${ids.practitioner}`,
    });
    await page.close();
  });

  it("a practitioner's standalone launch/patient: the picker lists only patients they may open", async () => {
    const page = await browser.newPage();
    const scope = 'launch/patient user/*.rs openid fhirUser';
    const listed: string[] = [];
    const tokens = await launchAndLogin(
      page,
      `${appOrigin}/launch.html?iss=${encodeURIComponent(t.fhirUrl)}&scope=${encodeURIComponent(scope)}`,
      'dr-carer',
      async (picker) => {
        await picker.waitForSelector('h1:has-text("Choose a patient")');
        for (const button of await picker.locator('button[name="pick"]').all())
          listed.push((await button.getAttribute('data-patient')) ?? '');
        await picker.click(`button[data-patient="${ids.patient}"]`);
      },
    );
    expect(listed).toEqual([ids.patient]);
    expect(listed).not.toContain(ids.stranger);
    expect(tokens).toMatchObject({ patient: ids.patient, fhirUser: `Practitioner/${ids.practitioner}` });
    const read = await page.evaluate(
      (patient) => (window as unknown as { smart: Smart }).smart.request(`Patient/${patient}`),
      ids.patient,
    );
    expect((read as { id: string }).id).toBe(ids.patient);
    await page.close();
  });
});
