/**
 * The record as people read it, in Chromium at 1280x800 and 390x844, on Synthea patients: the
 * claim flow without dead ends (a wrong code shows no phrase, the phrase is confirmed by typing
 * words back, a used code and a new device lead to the recovery phrase), the summary first, lab
 * reports with ranges and flags, a record's detail with its verification, search and dates, and
 * a trend chart whose plotted points are the Observations' own values and units. Then the load
 * times of the main pages for the Synthea patient with the most records (BENCHMARKS.md).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessTokensFor } from '../../src/access/accessTokensFor.ts';
import { bearer } from '../../src/access/testing/mintAccessToken.ts';
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
  signIn,
  submitClaimCode,
} from './portalBrowser.ts';
import { type PortalNode, startPortalNode } from './portalNode.ts';

const LAWRENCE = 'Lawrence741_Hammes673_6d44fe03-2478-a82d-7495-3a7c433ed921.json'; // the most records
const EURA = 'Eura_Treutel_8a12e2bb-ecc5-43e9-8de2-bfd019911f7f.json'; // the most lab results
const WAIT = 90_000;
const TEST_TIMEOUT = 300_000;

let portal: PortalNode;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  await mkdir(SCREENSHOTS, { recursive: true });
  [portal, browser] = await Promise.all([
    startPortalNode({ extraPatients: [LAWRENCE, EURA] }),
    launchChromium(),
  ]);
}, 300_000);

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {});
  await browser?.close().catch(() => {});
  await portal?.stop();
});

async function newPage(viewport = DESKTOP): Promise<Page> {
  const context = await browser.newContext({ viewport });
  contexts.push(context);
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT);
  return page;
}

describe('the clinical record in the portal', () => {
  it(
    'claim without dead ends, the summary first, reports with ranges, details verified, charts equal to the Observations',
    async () => {
      const eura = portal.extra[1]!;
      const page = await newPage();
      await signIn(page, portal.url, eura);
      await page.getByRole('heading', { name: 'Set up your key' }).waitFor();

      // A wrong code is refused before any key is made: no phrase, the form stays to correct it.
      await submitClaimCode(page, 'AAAAA-BBBBB-CCCCC-DDDDD', 'eura horse battery');
      await page.getByRole('alert').filter({ hasText: 'not the claim code of your record' }).waitFor();
      expect(await page.getByRole('list', { name: 'Recovery phrase' }).count()).toBe(0);
      expect(await page.getByRole('alert').textContent()).not.toContain('Something went wrong');

      // The right code: the phrase, confirmed by typing three of its words back.
      const words = await claimKey(page, eura.claimCode, 'eura horse battery', async () => {
        expect(await page.getByLabel(/^Word \d+$/).count()).toBe(3);
        for (const input of await page.getByLabel(/^Word \d+$/).all()) await input.fill('wrong');
        await page.getByRole('button', { name: 'Bind my key to my record' }).click();
        await page.getByRole('alert').filter({ hasText: 'not the ones at those places' }).waitFor();
        await screen(page, '15-patient-confirm-phrase');
      });
      expect(words).toHaveLength(12);

      // The summary first.
      await page.getByRole('heading', { name: /^Records of / }).waitFor();
      const total = await allVerified(page, WAIT);
      expect(total).toBeGreaterThan(500);
      await page.getByTestId('summary-problems').waitFor();
      expect(await page.getByTestId('summary-allergies').getByTestId('summary-item').count()).toBe(1);
      const latest = page.getByTestId('summary-results').getByTestId('result');
      expect(await latest.first().textContent()).toMatch(/\d+\/\d+ mmHg/);
      await screen(page, '16-patient-summary');
      await page.setViewportSize(PHONE);
      await shot(page, '16b-patient-summary-phone');
      await page.setViewportSize(DESKTOP);

      // Lab reports with their results, ranges and flags.
      await page.getByRole('button', { name: 'Lab results' }).click();
      const panel = page.getByTestId('lab-report').filter({ hasText: 'Basic Metabolic Panel' }).first();
      const creatinine = panel.getByTestId('result').filter({ hasText: 'Creatinine' });
      expect(await creatinine.textContent()).toMatch(/\d\.\d{1,2} mg\/dL.*0\.6–1\.3 mg\/dL/);
      expect(['high', 'low', 'normal']).toContain(await creatinine.getAttribute('data-flag'));
      await screen(page, '17-patient-lab-results');

      // A record's detail, with its verification.
      await creatinine.getByRole('button').click();
      const detail = page.getByTestId('record-detail');
      await detail.getByRole('heading', { name: 'Creatinine' }).waitFor();
      expect(await detail.getByTestId('detail-verification').textContent()).toMatch(
        /Verified on chain.*batch/,
      );
      expect(await detail.getByTestId('detail-value').textContent()).toMatch(/^\d\.\d{1,2} mg\/dL$/);
      await screen(page, '18-patient-record-detail');
      await detail.getByRole('button', { name: '← Back' }).click();

      // Search and a date range narrow the list.
      await page.getByRole('button', { name: 'All records' }).click();
      await page.getByLabel('Search').fill('hemoglobin a1c');
      const matching = Number(await page.getByTestId('record-count').getAttribute('data-count'));
      expect(matching).toBeGreaterThan(1);
      expect(matching).toBeLessThan(total);
      await page.getByLabel('From').fill('2015-01-01');
      const since = Number(await page.getByTestId('record-count').getAttribute('data-count'));
      expect(since).toBeLessThan(matching);
      await expectAccessible(page, 'records searched by words and dates');
      for (const time of await page.getByTestId('record').locator('time').all())
        expect((await time.getAttribute('datetime'))! >= '2015-01-01').toBe(true);

      // The HbA1c chart plots exactly the Observations' values, in their unit.
      const tokens = await accessTokensFor(portal.node);
      const token = await bearer(tokens, {
        kind: 'patient',
        scope: 'patient/*.rs',
        subject: eura.username,
        patient: eura.patientId,
      });
      const search = (await (
        await fetch(
          `${portal.url}/fhir/Observation?patient=${eura.patientId}&code=http://loinc.org|4548-4&_count=100`,
          {
            headers: { authorization: token },
          },
        )
      ).json()) as {
        entry: { resource: { valueQuantity: { value: number; code: string }; effectiveDateTime: string } }[];
      };
      const observations = search.entry.map((e) => e.resource);
      expect(observations.length).toBeGreaterThan(1);
      await page.getByRole('button', { name: 'Trends' }).click();
      await page.getByLabel('Trend', { exact: true }).selectOption('4548-4');
      const chart = page.locator('[data-testid="trend-chart"][data-code="4548-4"]');
      await chart.locator('canvas').waitFor();
      const plotted = await chart.evaluate((el) => {
        const u = (el as unknown as { uplot: { data: (number | null)[][]; series: { label: string }[] } })
          .uplot;
        return { data: u.data, labels: u.series.map((s) => s.label) };
      });
      const expected = observations
        .map((o) => [Math.floor(Date.parse(o.effectiveDateTime) / 1000), o.valueQuantity.value] as const)
        .sort((a, b) => a[0] - b[0]);
      expect(plotted.data[0]).toEqual(expected.map((p) => p[0]));
      expect(plotted.data[1]).toEqual(expected.map((p) => p[1]));
      expect(new Set(observations.map((o) => o.valueQuantity.code))).toEqual(new Set(['%']));
      expect(plotted.labels[1]).toBe('Hemoglobin A1c/Hemoglobin.total in Blood (%)');
      // The accessible table beside it holds the same measurements.
      expect(await page.getByTestId('trend-table').locator('tbody tr').count()).toBe(observations.length);
      await screen(page, '19-patient-trends');
      await page.setViewportSize(PHONE);
      await shot(page, '19b-patient-trends-phone');

      // Blood pressure: two lines, systolic and diastolic, in mmHg.
      await page.setViewportSize(DESKTOP);
      await page.getByLabel('Trend', { exact: true }).selectOption('55284-4');
      const bp = page.locator('[data-testid="trend-chart"][data-code="55284-4"]');
      await bp.locator('canvas').waitFor();
      expect(
        await bp.evaluate((el) =>
          (el as unknown as { uplot: { series: { label: string }[] } }).uplot.series.map((s) => s.label),
        ),
      ).toEqual(['Date', 'Systolic (mmHg)', 'Diastolic (mmHg)']);

      // A new device: the record is bound, so the recovery phrase is offered first; a used code leads there too.
      const device = await newPage(PHONE);
      await signIn(device, portal.url, eura);
      await device.getByLabel('Recovery phrase (12 words)').waitFor();
      await expectAccessible(device, 'restore with the recovery phrase');
      await device.getByRole('button', { name: 'I have a claim code' }).click();
      await submitClaimCode(device, eura.claimCode, 'eura horse battery');
      await device.getByRole('status').filter({ hasText: 'already bound to a key' }).waitFor();
      expect(await device.getByRole('list', { name: 'Recovery phrase' }).count()).toBe(0);
      await device.getByLabel('Recovery phrase (12 words)').fill(words.join(' '));
      await device.getByLabel('New passphrase (at least 10 characters)').fill('phone horse battery');
      await device.getByLabel('The same passphrase again').fill('phone horse battery');
      await device.getByRole('button', { name: 'Restore my key' }).click();
      await device.getByRole('heading', { name: /^Records of / }).waitFor();
    },
    TEST_TIMEOUT,
  );

  it(
    'load times of the main pages for the patient with the most records',
    async () => {
      const lawrence = portal.extra[0]!;
      const page = await newPage();
      await signIn(page, portal.url, lawrence);
      await claimKey(page, lawrence.claimCode, 'lawrence horse battery');
      await allVerified(page, WAIT);
      // A new visit: sign in, unlock, then each page timed from the click to what a person waits for.
      await page.reload();
      await page.getByLabel('Passphrase').fill('lawrence horse battery');
      const unlock = Date.now();
      await page.getByLabel('Passphrase').press('Enter');
      await page.getByTestId('summary-results').waitFor();
      const shown = Date.now() - unlock;
      const records = await allVerified(page, WAIT);
      const verified = Date.now() - unlock;
      const reportStart = Date.now();
      await page.getByRole('link', { name: 'Access report' }).click();
      await page.getByTestId('report-summary').waitFor();
      await page.getByRole('button', { name: 'Check again' }).waitFor();
      const report = Date.now() - reportStart;
      // Back to the records: nothing downloaded or verified again.
      const backStart = Date.now();
      let refetched = 0;
      page.on('request', (r) => {
        if (/\$everything|record-proofs/.test(r.url())) refetched++;
      });
      await page.getByRole('link', { name: 'My records' }).click();
      await allVerified(page, WAIT);
      const back = Date.now() - backStart;
      expect(refetched).toBe(0);
      expect(records).toBeGreaterThan(600);
      const figures = {
        date: new Date().toISOString(),
        cpu: cpus()[0]?.model ?? 'unknown',
        patient: LAWRENCE,
        records,
        msRecordsShown: shown,
        msRecordsVerified: verified,
        msAccessReport: report,
        msBackToRecords: back,
      };
      await writeFile(`${SCREENSHOTS}/../portal-load-times.json`, `${JSON.stringify(figures, null, 2)}\n`);
      console.log(JSON.stringify(figures));
    },
    TEST_TIMEOUT,
  );
});
