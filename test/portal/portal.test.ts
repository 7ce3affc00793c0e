/**
 * The portal end to end, in Debian's Chromium driven by playwright-core, against a real node
 * (anvil, PGlite, HTTP): a patient signs in and sets up their key with the claim code, sees their
 * records verified against the chain, grants a clinician access by signing in the browser; the
 * clinician sees the records; the patient revokes; the clinician is refused; the patient's access
 * report shows both accesses, each verified in the browser. Then break-glass and the privacy
 * officer's dashboard. Screenshots of each screen go to docs/screenshots/.
 */
import { mkdir } from 'node:fs/promises';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokensFor } from '../../src/access/accessTokensFor.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
import { userUpdateCommand } from '../../src/cli/commands/userUpdate.ts';
import {
  allVerified,
  claimKey,
  DESKTOP,
  expectAccessible,
  launchChromium,
  PHONE,
  SCREENSHOTS,
  screen,
  shot,
  signIn as signInAt,
} from './portalBrowser.ts';
import { type PortalNode, type PortalUser, startPortalNode } from './portalNode.ts';

/** Generous waits on conditions: the machine may be slow and shared. */
const WAIT = 60_000;
const TEST_TIMEOUT = 240_000;

let portal: PortalNode;
let browser: Browser;
const contexts: BrowserContext[] = [];
/** The patient's tab, still signed in and unlocked after the first test. */
let patientTab: Page | undefined;

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  [portal, browser] = await Promise.all([startPortalNode(), launchChromium()]);
}, 180_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close().catch(() => {});
  await portal?.stop();
});

/** What the browser refused under the portal's Content-Security-Policy: must stay empty. */
const cspViolations: string[] = [];

async function newPage(viewport = DESKTOP): Promise<Page> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  page.on('console', (message) => {
    if (/Content Security Policy/i.test(message.text())) cspViolations.push(message.text());
  });
  return page;
}

const signIn = (page: Page, user: PortalUser, options: { keyboard?: boolean; accessible?: boolean } = {}) =>
  signInAt(page, portal.url, user, options);

/** Every form control on the screen has an accessible name (a label, or aria-label). */
async function expectLabelled(page: Page): Promise<void> {
  const unnamed = await page.locator('input, select, textarea').evaluateAll((els) =>
    els
      .filter((el) => (el as HTMLInputElement).type !== 'hidden')
      .filter((el) => ((el as HTMLInputElement).labels?.length ?? 0) === 0 && !el.getAttribute('aria-label'))
      .map((el) => el.outerHTML.slice(0, 80)),
  );
  expect(unnamed).toEqual([]);
}

/** Clicks "Check again" on the access report until `done` holds for its rows. */
async function reportUntil(page: Page, done: (rows: Row[]) => boolean): Promise<Row[]> {
  const deadline = Date.now() + WAIT;
  for (;;) {
    await page.getByTestId('report-summary').waitFor();
    const rows = await page.getByTestId('access').evaluateAll((els) =>
      els.map((el) => ({
        who: el.getAttribute('data-who') ?? '',
        allowed: el.getAttribute('data-allowed') === 'true',
        verification: el.getAttribute('data-verification') ?? '',
        emergency: el.getAttribute('data-emergency') === 'true',
        category: el.getAttribute('data-category') ?? '',
        records: Number(el.getAttribute('data-records')),
        text: el.querySelector('.sentence')?.textContent ?? '',
      })),
    );
    if (done(rows)) return rows;
    if (Date.now() > deadline) throw new Error(`access report never settled: ${JSON.stringify(rows)}`);
    await page.getByRole('button', { name: 'Check again' }).click();
    await page.getByRole('button', { name: 'Check again' }).and(page.locator(':enabled')).waitFor();
  }
}
interface Row {
  who: string;
  allowed: boolean;
  verification: string;
  emergency: boolean;
  category: string;
  records: number;
  /** The line's sentence. */
  text: string;
}

describe('the web portal', () => {
  it(
    'patient grants, clinician reads, patient revokes, clinician is refused, report verifies both',
    async () => {
      const patient = await newPage();
      const clinician = await newPage();

      // Patient: password on the node's login page, then a key made in the browser and bound by the claim code.
      await signIn(patient, portal.patient, { accessible: true });
      await patient.getByRole('heading', { name: 'Set up your key' }).waitFor();
      await expectLabelled(patient);
      await expectAccessible(patient, 'set up your key');
      const words = await claimKey(patient, portal.claimCode, 'correct horse battery', async () => {
        await expectLabelled(patient);
        await screen(patient, '01-patient-recovery-phrase');
      });
      expect(words).toHaveLength(12);

      // Records: a timeline, every entry verified against the chain in the browser.
      await patient.getByRole('heading', { name: /^Records of / }).waitFor();
      const records = await allVerified(patient, WAIT);
      expect(records).toBeGreaterThan(50);
      // The summary first; every record in the list, 25 a page, each verified on chain.
      await patient.getByTestId('summary-results').waitFor();
      await patient.getByRole('button', { name: 'All records' }).click();
      expect(Number(await patient.getByTestId('record-count').getAttribute('data-count'))).toBe(records);
      expect(await patient.getByTestId('record').count()).toBe(25);
      expect(await patient.getByTestId('record').filter({ hasText: 'Verified on chain' }).count()).toBe(25);
      await expectAccessible(patient, 'all records');
      // Values with display units, rounded: never mm[Hg] or a long decimal.
      const shownText = (await patient.getByTestId('record').allTextContents()).join('\n');
      expect(shownText).not.toMatch(/mm\[Hg\]|\{score\}|\d\.\d{4,}/);
      await patient.getByRole('button', { name: 'Summary' }).click();
      await screen(patient, '02-patient-records');
      await patient.setViewportSize(PHONE);
      await shot(patient, '02b-patient-records-phone');
      await patient.setViewportSize(DESKTOP);
      // The key is stored only encrypted.
      const stored = await patient.evaluate(() => localStorage.getItem('medledger.key.chet'));
      expect(JSON.parse(stored!)).toMatchObject({ kdf: { name: 'PBKDF2' }, cipher: { name: 'AES-GCM' } });
      expect(stored).not.toContain(words.join(' '));

      // Grant the clinician access, signed in the browser; pending until mined, then active.
      await patient.getByRole('link', { name: 'Who has access' }).click();
      await patient.getByRole('button', { name: 'Sign and give access' }).waitFor();
      await expectLabelled(patient);
      // A practitioner created without --address can be chosen too (the address was derived).
      const choices = await patient.getByLabel('Clinician').locator('option').allTextContents();
      expect(choices.some((c) => c.includes(portal.unaddressed.username))).toBe(true);
      await patient.getByLabel('Clinician').selectOption(portal.clinician.address);
      // First a node (or a man in the middle) that swaps the grantee and widens the purposes: the
      // portal compares the message with what the patient chose and refuses before signing.
      let relayed = 0;
      const countRelays = (request: { url(): string; method(): string }) => {
        if (request.method() === 'POST' && /\$grant/.test(request.url())) relayed++;
      };
      patient.on('request', countRelays);
      await patient.route('**/$consent-typed-data*', async (route) => {
        const response = await route.fetch();
        const body = (await response.json()) as { parameter: { name: string; valueString?: string }[] };
        for (const p of body.parameter)
          if (p.name === 'typedData' && p.valueString) {
            const typed = JSON.parse(p.valueString) as { message: Record<string, string> };
            typed.message.grantee = '0x000000000000000000000000000000000000dead';
            typed.message.purposes = String(Number(typed.message.purposes) | 0xff);
            p.valueString = JSON.stringify(typed);
          }
        await route.fulfill({ response, json: body });
      });
      await patient.getByRole('button', { name: 'Sign and give access' }).click();
      await patient.getByRole('alert').filter({ hasText: 'nothing was signed' }).waitFor();
      expect(relayed).toBe(0);
      await patient.unroute('**/$consent-typed-data*');
      patient.off('request', countRelays);
      await patient.getByRole('button', { name: 'Sign and give access' }).click();
      const grant = patient.getByTestId('consent').filter({ hasText: portal.clinician.username });
      await grant.getByText('Active').waitFor();
      // What the grant covers, in words (never FHIR type names).
      expect(await grant.getByTestId('grant-kinds').textContent()).toBe('all your records');
      await screen(patient, '03-patient-access-granted');

      // The clinician finds the patient and reads the records.
      await signIn(clinician, portal.clinician);
      const listed = clinician.getByTestId('my-patient');
      await listed.first().waitFor();
      expect(await listed.count()).toBe(1);
      await screen(clinician, '04-clinician-patients');
      await listed.getByRole('button', { name: /^View records of / }).click();
      await clinician.getByRole('heading', { name: /^Records of / }).waitFor();
      expect(await allVerified(clinician, WAIT)).toBe(records);
      await clinician.getByTestId('patient-banner').waitFor();
      await screen(clinician, '05-clinician-records');

      // The patient revokes; the clinician is refused.
      await patient.getByRole('button', { name: `Revoke access for ${portal.clinician.username}` }).click();
      await grant.getByText('Revoked').waitFor();
      await screen(patient, '06-patient-access-revoked');
      await clinician.getByRole('button', { name: 'Reload' }).click();
      await clinician.getByTestId('refused').waitFor();
      expect(await clinician.getByTestId('record').count()).toBe(0);
      await screen(clinician, '07-clinician-refused');

      // The access report shows both, allowed and denied, each verified in the browser.
      await patient.getByRole('link', { name: 'Access report' }).click();
      const rows = await reportUntil(patient, (list) => {
        const ada = list.filter((r) => r.who === portal.clinician.username);
        return (
          ada.some((r) => r.allowed) &&
          ada.some((r) => !r.allowed) &&
          ada.every((r) => r.verification === 'verified')
        );
      });
      expect(rows.filter((r) => r.verification === 'failed')).toEqual([]);
      // In words, grouped: one line for the clinician's view (the $everything and the proofs of
      // what it showed), counting the records; one for the refusal; the consent changes.
      const ada = portal.clinician.username;
      const viewed = rows.filter((r) => r.who === ada && r.category === 'viewed');
      expect(viewed).toHaveLength(1);
      expect(viewed[0]!.records).toBeGreaterThan(50);
      expect(viewed[0]!.text).toMatch(
        new RegExp(`^${ada} viewed ${viewed[0]!.records} of your records on .+ for treatment$`),
      );
      const refused = rows.filter((r) => r.who === ada && !r.allowed);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.text).toMatch(/asked for your records on .+ and was refused$/);
      expect(await patient.getByTestId('access').filter({ hasText: 'was refused' }).textContent()).toContain(
        'Denied',
      );
      const consent = rows.filter((r) => r.category === 'consent').map((r) => r.text);
      expect(consent).toEqual([
        expect.stringMatching(new RegExp(`^You took back the access of ${ada} on `)),
        expect.stringMatching(new RegExp(`^You gave ${ada} access to your records on `)),
      ]);
      // Internal rows are not shown as such: no hashes, portal paths or proof operations.
      for (const r of rows) expect(r.text).not.toMatch(/sha256|portal\/|\$proof|\$everything|urn:/);
      // The patient's own activity (their reads, their key) only when asked for.
      expect(rows.some((r) => r.who === portal.patient.username && r.category !== 'consent')).toBe(false);
      await patient.getByLabel('Show my own activity too').check();
      await patient.getByTestId('access').filter({ hasText: 'set up your key' }).waitFor();
      await patient.getByLabel('Show my own activity too').uncheck();
      // Filterable: by who and by what.
      await patient.getByLabel('What', { exact: true }).selectOption({ label: 'Consent changes' });
      expect(await patient.getByTestId('access').count()).toBe(2);
      await patient.getByLabel('What', { exact: true }).selectOption({ label: 'Everything' });
      await patient.getByLabel('Who', { exact: true }).selectOption({ label: ada });
      expect(
        await patient.getByTestId('access').evaluateAll((els) => els.map((e) => e.getAttribute('data-who'))),
      ).toEqual([ada, ada]);
      await patient.getByLabel('Who', { exact: true }).selectOption({ label: 'Everyone' });
      await screen(patient, '08-patient-access-report');
      await patient.setViewportSize(PHONE);
      await shot(patient, '08b-patient-access-report-phone');
      await patient.setViewportSize(DESKTOP);
      // Back again from another screen: only entries new since are checked, the rest keep their verdict.
      const total = Number(
        /^(\d+) entries verified/.exec(
          (await patient.getByTestId('report-summary').textContent()) ?? '',
        )?.[1],
      );
      await patient.getByRole('link', { name: 'Who has access' }).click();
      await patient.getByRole('button', { name: 'Sign and give access' }).waitFor();
      let fullReports = 0;
      const countReports = (r: { url(): string }) => {
        if (/\$access-report(?!\?start=)/.test(r.url())) fullReports++;
      };
      patient.on('request', countReports);
      await patient.getByRole('link', { name: 'Access report' }).click();
      await patient.getByTestId('report-summary').waitFor();
      patient.off('request', countReports);
      expect(fullReports).toBe(0);
      const checkedNow = Number(await patient.getByTestId('report-summary').getAttribute('data-checked-now'));
      expect(checkedNow).toBeLessThan(total);
      patientTab = patient;
      // The whole flow ran under the portal's strict CSP without a single refusal.
      expect(cspViolations).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    'break-glass asks for a reason, shows its time limit, and the officer sees it',
    async () => {
      const clinician = await newPage();
      await signIn(clinician, portal.clinician);
      await clinician.getByRole('link', { name: 'Emergency access' }).click();
      const open = clinician.getByRole('button', { name: 'Open emergency access' });
      // Only the screen shown is marked current in the menu.
      expect(await clinician.locator('nav [aria-current="page"]').allTextContents()).toEqual([
        'Emergency access',
      ]);
      expect(await open.isDisabled()).toBe(true);
      await expectLabelled(clinician);
      await clinician.getByLabel('Reason (required)').fill('unconscious in the emergency department');
      // The patient never consented to this clinician: found by family name and birth date.
      await clinician.getByLabel('Family name').fill('Thompson');
      await clinician.getByLabel('Birth date').fill('1939-01-27');
      await clinician.getByRole('button', { name: 'Find patient' }).click();
      const candidate = clinician
        .getByRole('list', { name: 'Matching patients' })
        .getByLabel(/Chet\d* Thompson\d*, born 1939-01-27/);
      await candidate.waitFor();
      await candidate.check();
      expect(await clinician.getByLabel('Patient ID').inputValue()).toBe(portal.patientId);
      await clinician.getByLabel(/confirm this is an emergency/).check();
      await screen(clinician, '09-clinician-break-glass');
      await open.click();
      await clinician.getByText(/Break-glass access — \d+ minutes left/).waitFor();
      expect(await allVerified(clinician, WAIT)).toBeGreaterThan(50);
      await screen(clinician, '10-clinician-break-glass-records');

      // The patient sees the emergency access at once, highlighted and verified.
      {
        if (!patientTab) throw new Error('the first test leaves the patient signed in');
        const tab = patientTab;
        const rows = await reportUntil(tab, (list) =>
          list.some(
            (r) =>
              r.who === portal.clinician.username &&
              r.emergency &&
              r.allowed &&
              r.verification === 'verified',
          ),
        );
        // The opening carries the reason the clinician gave.
        expect(
          rows.some((r) => r.emergency && r.text.includes('unconscious in the emergency department')),
        ).toBe(true);
        await screen(tab, '12-patient-report-break-glass');
        // The notice is on every page, read again on each screen change; "who has access" lists
        // the open window and the treatment policy.
        await tab.getByRole('link', { name: 'Who has access' }).click();
        await tab.getByTestId('notice').filter({ hasText: 'opened emergency access' }).first().waitFor();
        // A badge on the menu, and the list: the break-glass opening and the first read by an organization.
        expect(
          Number(
            await tab
              .getByTestId('notice-badge')
              .first()
              .textContent()
              .then((t) => t?.replace(/\D/g, '')),
          ),
        ).toBeGreaterThanOrEqual(1);
        await tab.getByRole('link', { name: /^Notices/ }).click();
        const items = tab.getByTestId('notice-item');
        await items.first().waitFor();
        expect(await items.filter({ hasText: 'opened emergency access' }).getAttribute('data-kind')).toBe(
          'break-glass',
        );
        expect(await items.filter({ hasText: 'New' }).count()).toBeGreaterThanOrEqual(1);
        await items
          .locator('[data-kind="new-organization"]')
          .or(tab.locator('[data-kind="new-organization"]'))
          .first()
          .waitFor();
        expect(await tab.locator('[data-kind="new-organization"]').first().textContent()).toMatch(
          /read your records for the first time \(dr\.ada, on /,
        );
        await screen(tab, '20-patient-notices');
        // Seen once the list was shown: the badge is gone after leaving it.
        await tab.getByRole('link', { name: 'Who has access' }).click();
        await tab.getByRole('button', { name: 'Sign and give access' }).waitFor();
        expect(await tab.getByTestId('notice-badge').count()).toBe(0);
        const window = tab.getByTestId('basis').and(tab.locator('[data-basis="emergency"]'));
        await window.filter({ hasText: portal.clinician.username }).waitFor();
        expect(await window.textContent()).toMatch(/Until/);
        expect(await tab.getByTestId('treatment-policy').textContent()).toContain('without your consent');
        expect(await tab.locator('[data-basis="audit-review"]').count()).toBe(1);
        await screen(tab, '13-patient-who-has-access');
      }

      const officer = await newPage();
      await signIn(officer, portal.officer, { keyboard: true });
      await officer.getByTestId('block-height').waitFor();
      expect(Number(await officer.getByTestId('block-height').textContent())).toBeGreaterThan(0);
      await officer.getByRole('heading', { name: 'Break-glass to review (1)' }).waitFor();
      // The opening in words: who, whose record, the reason, when it was opened and the time left.
      const opening = officer.getByTestId('break-glass-opening');
      expect(await opening.getByTestId('opening-practitioner').textContent()).toBe(portal.clinician.username);
      expect(await opening.getByTestId('opening-patient').textContent()).toMatch(/^Chet\d* Thompson\d*$/);
      expect(await opening.getByTestId('opening-reason').textContent()).toBe(
        '“unconscious in the emergency department”',
      );
      expect(await opening.getByTestId('opening-opened').textContent()).toMatch(/\d{4}.*\(block \d+\)$/);
      expect(await opening.getByTestId('opening-time-left').textContent()).toMatch(
        /^(\d+ h )?\d+ min(utes)? left, until /,
      );
      await officer.getByRole('button', { name: 'Run verify now' }).click();
      await officer.getByTestId('latest-verify').getByText('All holds').waitFor({ timeout: 60_000 });
      await screen(officer, '11-officer-dashboard');
      // The officer reviews the opening: it leaves the list to review, and the review is audited.
      await portal.node.audit.flush();
      const [before] = await portal.node.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM audit_events',
      );
      await officer.getByLabel('Review note (optional)').fill('confirmed with the ED chart');
      await officer.getByRole('button', { name: 'Justified', exact: true }).click();
      await officer.getByRole('heading', { name: 'Break-glass to review (0)' }).waitFor();
      expect(await officer.getByTestId('break-glass-review').textContent()).toContain('reviewed: justified');
      // The note and the reviewer, read back from the verified audit log.
      expect(await officer.getByTestId('review-note').textContent()).toBe(
        'Note: “confirmed with the ED chart”',
      );
      expect(await officer.getByTestId('break-glass-review').textContent()).toContain(
        `by ${portal.officer.username}`,
      );
      await expectAccessible(officer, 'officer dashboard, reviewed');
      await officer.getByTestId('break-glass-opening').scrollIntoViewIfNeeded();
      await shot(officer, '21-officer-break-glass-reviewed');
      await portal.node.audit.flush();
      const [after] = await portal.node.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM audit_events',
      );
      expect(after!.n - before!.n).toBeGreaterThanOrEqual(2); // the request's decision and the review
      const [review] = await portal.node.db.query<{ tx_hash: string; outcome: string }>(
        'SELECT tx_hash, outcome FROM break_glass_reviews',
      );
      expect(review?.outcome).toBe('justified');
      // One review per opening; a bad outcome or hash is a 400.
      const tokens = await accessTokensFor(portal.node);
      const officerToken = await bearer(tokens, {
        kind: 'officer',
        scope: 'user/*.rs',
        subject: portal.officer.username,
      });
      const review2 = (txHash: string, body: unknown) =>
        fetch(`${portal.url}/portal/api/officer/break-glass/${txHash}/review`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: officerToken },
          body: JSON.stringify(body),
        });
      expect((await review2(review!.tx_hash, { outcome: 'not-justified' })).status).toBe(409);
      expect((await review2(review!.tx_hash, { outcome: 'maybe' })).status).toBe(400);
      expect((await review2('0x1234', { outcome: 'justified' })).status).toBe(400);
      expect((await review2(`0x${'ab'.repeat(32)}`, { outcome: 'justified' })).status).toBe(404);
    },
    TEST_TIMEOUT,
  );

  it(
    "a guardian the patient appoints grants access for her, with the guardian's own key; an idle tab drops the key",
    async () => {
      if (!patientTab) throw new Error('the first test leaves the patient signed in');
      const chet = patientTab;
      // The guardian sets up her own key (her own record, her own claim code).
      const gail = await newPage();
      await signIn(gail, portal.guardian);
      await gail.getByRole('heading', { name: 'Set up your key' }).waitFor();
      await claimKey(gail, portal.guardian.claimCode, 'guardian horse battery');
      await gail.getByRole('heading', { name: /^Records of / }).waitFor();
      // A token issued after the claim carries her new address.
      await gail.getByRole('button', { name: 'Sign out' }).click();
      await signIn(gail, portal.guardian);
      await gail.getByLabel('Passphrase').fill('guardian horse battery');
      await gail.getByLabel('Passphrase').press('Enter');
      await gail.getByRole('link', { name: 'I act for' }).click();
      const address = (await gail.getByTestId('my-address').textContent())?.trim() ?? '';
      expect(address).toMatch(/^0x[0-9a-f]{40}$/);
      expect(await gail.getByTestId('acting-for').count()).toBe(0);
      await expectAccessible(gail, 'I act for');

      // The patient appoints her, signing in her own tab.
      await chet.getByRole('link', { name: 'Who has access' }).click();
      await expectLabelled(chet);
      await chet.getByLabel("Delegate's chain address").fill(address);
      await chet.getByLabel('Appointed until').fill(`${new Date().getUTCFullYear() + 1}-06-30`);
      await chet.getByRole('button', { name: 'Sign and appoint' }).click();
      await chet.getByRole('status').filter({ hasText: 'Your delegate is appointed' }).waitFor();

      // The guardian sees whom she acts for and grants the clinician access, signed with her key.
      await gail.getByRole('link', { name: 'My records' }).click();
      await gail.getByRole('link', { name: 'I act for' }).click();
      await gail.getByRole('button', { name: `Manage access for Patient/${portal.patientId}` }).click();
      await gail.getByRole('heading', { name: 'Access you manage as a delegate' }).waitFor();
      await gail.getByLabel('Clinician').selectOption(portal.clinician.address);
      await gail.getByRole('button', { name: 'Sign and give access' }).click();
      const granted = gail.getByTestId('consent').filter({ hasText: portal.clinician.username });
      await granted.getByText('Active').waitFor();
      await screen(gail, '14-guardian-grants-for-patient');

      // The patient sees the grant and her delegate.
      await chet.getByRole('link', { name: 'My records' }).click();
      await chet.getByRole('link', { name: 'Who has access' }).click();
      await chet
        .getByTestId('consent')
        .filter({ hasText: portal.clinician.username })
        .getByText('Active')
        .waitFor();
      await chet.locator('[data-basis="delegate"]').filter({ hasText: address }).waitFor();
      const [row] = await portal.node.db.query<{ signer: string }>(
        'SELECT signer FROM chain_consent_grants WHERE grantee = $1',
        [portal.clinician.address],
      );
      expect(row?.signer).toBe(address);

      // The clinician now reaches Chet by consent and by the open break-glass window: one card, both bases.
      const clinician = await newPage();
      await signIn(clinician, portal.clinician);
      const card = clinician.getByTestId('my-patient');
      await card.getByText('Consent').waitFor();
      expect(await card.count()).toBe(1);
      expect(await card.getByText('Break-glass').count()).toBe(1);
      expect(await card.getByText(/^Emergency access until /).count()).toBe(1);
      // A name that matches nobody says so, not "no patient has given you access".
      await clinician.getByLabel('Find a patient').fill('zzz');
      await clinician.getByText('No patient of yours matches “zzz”.').waitFor();

      // The unlocked key is dropped after ten idle minutes (the tab's clock, sped up here).
      await gail.clock.install();
      await gail.reload();
      await gail.getByLabel('Passphrase').fill('guardian horse battery');
      await gail.getByLabel('Passphrase').press('Enter');
      await gail.getByRole('link', { name: 'I act for' }).waitFor();
      await gail.clock.fastForward('09:00');
      expect(await gail.getByRole('heading', { name: 'Unlock your key' }).count()).toBe(0);
      await gail.clock.fastForward('02:00');
      await gail.getByRole('heading', { name: 'Unlock your key' }).waitFor();
      await expectAccessible(gail, 'unlock your key');
      expect(cspViolations).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it('medledger user update gives a practitioner a new address: the Registry follows, the directory shows it', async () => {
    const practitioners = async () => {
      const tokens = await accessTokensFor(portal.node);
      const token = await bearer(tokens, {
        kind: 'patient',
        scope: 'patient/*.rs',
        subject: portal.patient.username,
        patient: portal.patientId,
      });
      const body = (await (
        await fetch(`${portal.url}/portal/api/practitioners`, { headers: { authorization: token } })
      ).json()) as { practitioners: { address: string; username: string | null }[] };
      return body.practitioners.filter((p) => p.username === portal.unaddressed.username);
    };
    const [derived] = await practitioners();
    expect(derived?.address).toMatch(/^0x[0-9a-f]{40}$/);
    const wallet = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();
    const updated = await userUpdateCommand.run(portal.node, {
      values: { address: wallet },
      positionals: [portal.unaddressed.username],
    });
    expect(updated.json).toMatchObject({ username: portal.unaddressed.username, address: wallet });
    expect((updated.json as { registry_outbox_ids: string[] }).registry_outbox_ids).toHaveLength(2);
    expect(updated.text).toContain(`address ${derived!.address} -> ${wallet}`);
    // Mined and indexed: the new address is the practitioner's, the derived one is deactivated.
    const deadline = Date.now() + WAIT;
    for (;;) {
      const listed = await practitioners();
      if (listed.length === 1 && listed[0]!.address === wallet) break;
      if (Date.now() > deadline) throw new Error(`the Registry never followed: ${JSON.stringify(listed)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // Nothing to change, or an unknown user, is refused with a reason.
    await expect(
      userUpdateCommand.run(portal.node, { values: {}, positionals: [portal.unaddressed.username] }),
    ).rejects.toThrow(/nothing to change/);
    await expect(
      userUpdateCommand.run(portal.node, { values: { address: wallet }, positionals: ['nobody'] }),
    ).rejects.toMatchObject({ code: 'ERR_ACCESS_USER_UNKNOWN' });
  });

  it('the portal is served with a strict Content-Security-Policy (no inline script, this node only)', async () => {
    const page = await fetch(`${portal.url}/portal/`);
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*unsafe-(inline|eval)/);
    expect(csp).toContain("connect-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(cspViolations).toEqual([]);
    // The app and the API are sent compressed; the authorization server's pages are not (BREACH).
    const script = /src="(\/portal\/assets\/[^"]+\.js)"/.exec(await page.text())?.[1];
    const asset = await fetch(`${portal.url}${script}`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(asset.headers.get('content-encoding')).toBe('br');
    const metadata = await fetch(`${portal.url}/fhir/metadata`, { headers: { 'accept-encoding': 'gzip' } });
    expect(metadata.headers.get('content-encoding')).toBe('gzip');
    const login = await fetch(`${portal.url}/auth/authorize?response_type=code`, {
      headers: { 'accept-encoding': 'br, gzip' },
    });
    expect(login.headers.get('content-encoding')).toBeNull();
  });

  it('the portal API is read-only on the chain and refuses the wrong role, with an audit event each', async () => {
    const tokens = await accessTokensFor(portal.node);
    const patient = await bearer(tokens, {
      kind: 'patient',
      scope: 'patient/*.cruds',
      subject: portal.patient.username,
      patient: portal.patientId,
    });
    const rpc = (authorization: string | undefined, method: string, params: unknown[] = []) =>
      fetch(`${portal.url}/portal/api/chain/rpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
    expect((await rpc(undefined, 'eth_chainId')).status).toBe(401);
    const chainId = (await (await rpc(patient, 'eth_chainId')).json()) as { result: string };
    expect(Number(chainId.result)).toBe(portal.node.chain.addresses.chainId);
    for (const method of ['eth_sendRawTransaction', 'eth_sendTransaction', 'anvil_setBalance', 'evm_mine'])
      expect((await rpc(patient, method)).status).toBe(403);

    const audited = async () =>
      (await portal.node.db.query<{ n: number }>('SELECT count(*)::int AS n FROM audit_events'))[0]!.n;
    await portal.node.audit.flush();
    const before = await audited();
    const overview = await fetch(`${portal.url}/portal/api/officer/overview`, {
      headers: { authorization: patient },
    });
    expect(overview.status).toBe(403);
    expect(((await overview.json()) as { message: string }).message).toMatch(/officer only/);
    await portal.node.audit.flush();
    expect(await audited()).toBe(before + 1);

    // A malformed version reference is refused before anything is read.
    const proofs = await fetch(`${portal.url}/portal/api/patients/${portal.patientId}/record-proofs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: patient },
      body: JSON.stringify({ versions: ['Observation/does-not-exist/_history/1', 'not a reference'] }),
    });
    expect(proofs.status).toBe(400);

    // Any path under /portal/ is the app (it routes itself).
    const deepLink = await fetch(`${portal.url}/portal/some/deep/route`);
    expect(deepLink.status).toBe(200);
    expect(await deepLink.text()).toContain('<div id="root">');
    // Nothing outside web/dist is served, however the path is spelled.
    for (const path of [
      '..%2f..%2fpackage.json',
      '%2e%2e/%2e%2e/package.json',
      'assets/..%2f..%2f..%2fpackage.json',
    ]) {
      const text = await (await fetch(`${portal.url}/portal/${path}`)).text();
      expect(text).not.toContain('"dependencies"');
    }
  });
});
