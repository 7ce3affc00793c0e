/**
 * The portal's browser tests' shared steps, in Debian's Chromium with playwright-core: launching
 * the browser, signing in on the node's login page, setting up a patient's key with a claim code
 * (the recovery phrase confirmed by typing three of its words back), and screenshots.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import type { PortalUser } from './portalNode.ts';

export const SCREENSHOTS = resolve(import.meta.dirname, '../../docs/screenshots');
export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export const shot = (page: Page, name: string) =>
  page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: false });

export async function signIn(
  page: Page,
  url: string,
  user: PortalUser,
  options: { keyboard?: boolean; accessible?: boolean } = {},
): Promise<void> {
  await page.goto(`${url}/portal/`);
  if (options.accessible) {
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await expectAccessible(page, 'sign-in');
  }
  if (options.keyboard) {
    // Keyboard only: Tab reaches the button, Enter presses it; on the login page Enter submits.
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByLabel('Username').waitFor();
    await page.getByLabel('Username').focus();
    await page.keyboard.type(user.username);
    await page.keyboard.press('Tab');
    await page.keyboard.type(user.password);
    await page.keyboard.press('Enter');
  } else {
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The node's own login page (authorization code + PKCE).
    await page.getByLabel('Username').waitFor();
    if (options.accessible) await expectAccessible(page, 'the login page');
    await page.getByLabel('Username').fill(user.username);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

/** Fills the claim form and asks for a key; the phrase is shown only if the code holds. */
export async function submitClaimCode(page: Page, claimCode: string, passphrase: string): Promise<void> {
  await page.getByLabel('Claim code').fill(claimCode);
  await page.getByLabel('New passphrase (at least 10 characters)').fill(passphrase);
  await page.getByLabel('The same passphrase again').fill(passphrase);
  await page.getByRole('button', { name: 'Create my key' }).click();
}

/**
 * Sets up the patient's key with their claim code: the phrase is shown, three of its words typed
 * back, the key bound. Resolves to the phrase's words; `beforeConfirm` runs while it is shown.
 */
export async function claimKey(
  page: Page,
  claimCode: string,
  passphrase: string,
  beforeConfirm: () => Promise<void> = async () => {},
): Promise<string[]> {
  await submitClaimCode(page, claimCode, passphrase);
  // allTextContents does not wait: the phrase is shown once the code is checked and the key made.
  const items = page.getByRole('list', { name: 'Recovery phrase' }).getByRole('listitem');
  await items.first().waitFor();
  const words = await items.allTextContents();
  await beforeConfirm();
  for (const input of await page.getByLabel(/^Word \d+$/).all()) {
    const label = (await input.getAttribute('id')) ?? '';
    const position = Number(label.replace('word-', ''));
    await input.fill(words[position - 1] ?? '');
  }
  await page.getByRole('button', { name: 'Bind my key to my record' }).click();
  return words;
}

/** The record view's "N of N records verified" once every shown record is verified; resolves to N. */
export async function allVerified(page: Page, timeout = 60_000): Promise<number> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const text = (await page.getByTestId('verify-summary').textContent()) ?? '';
    const match = /^(\d+) of (\d+) records verified/.exec(text);
    if (match && match[1] === match[2]) return Number(match[1]);
    if (Date.now() > deadline) throw new Error(`records never all verified: ${text}`);
    await page.waitForTimeout(250);
  }
}

const AXE_SOURCE = readFileSync(
  resolve(import.meta.dirname, '../../node_modules/axe-core/axe.min.js'),
  'utf8',
);

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * axe-core's violations on the page as it is now. The script is evaluated through the DevTools
 * protocol (what `page.addScriptTag({ path })` would insert as an inline script the portal's CSP
 * refuses, rightly), so the page under test keeps its strict policy.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(c: unknown, o: unknown): Promise<AxeResults> } }).axe;
    interface AxeResults {
      violations: { id: string; impact: string | null; help: string; nodes: { target: string[] }[] }[];
    }
    const results = await axe.run(document, { resultTypes: ['violations'] });
    return results.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      targets: v.nodes.map((n) => n.target.join(' ')),
    }));
  });
}

/** No axe violation on the screen at 1280x800 nor at 390x844; the viewport is put back after. */
export async function expectAccessible(page: Page, screen: string): Promise<void> {
  const before = page.viewportSize() ?? DESKTOP;
  const found: string[] = [];
  for (const viewport of [DESKTOP, PHONE]) {
    await page.setViewportSize(viewport);
    for (const v of await axeViolations(page))
      found.push(
        `${viewport.width}x${viewport.height} ${v.id} (${v.impact}: ${v.help}) at ${v.targets.join(', ')}`,
      );
  }
  await page.setViewportSize(before);
  if (found.length > 0) throw new Error(`axe found on "${screen}":\n${found.join('\n')}`);
}

/** A screen as people get it: no axe violation at either viewport, then its screenshot. */
export async function screen(page: Page, name: string): Promise<void> {
  await expectAccessible(page, name);
  await shot(page, name);
}
