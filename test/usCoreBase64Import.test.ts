/**
 * Issue 20: a Synthea US Core patient whose Device.udiCarrier.carrierAIDC is base64 with MIME
 * line breaks (valid R4 base64Binary: whitespace between groups of four) failed validation, and
 * with it the patient's whole transaction. Now it imports, with `medledger import` and through
 * the API, and the value is stored as written.
 *
 * The shared Synthea set has no carrierAIDC (grep finds none), so the test takes its US Core
 * patient with an implantable device (Georgianne697_Jerde200, 645 entries) and gives the Device
 * the carrierAIDC such an export carries: the base64 of its carrierHRF, 76 characters a line.
 * The derived file goes to a temporary directory, never into the repository.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Bundle, BundleEntry, Device } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../src/ehr/importFiles.ts';
import { sharedDataDir } from '../src/fhir/testing/sharedData.ts';
import { startTestNode, type TestNode } from '../src/fhir/testing/startTestNode.ts';
import { writeReferencedDirectories } from '../src/fhir/testing/syntheaDirectories.ts';
import { seedDataDir } from '../src/store/testing/embeddedTemplate.ts';
import { killEmbeddedAnvil } from './support/nodeProcess.ts';

const exec = promisify(execFile);
const PATIENT_FILE = 'Georgianne697_Jerde200_ebf0d007-a52f-5364-5c32-2ba094b88f16.json';

/** The bundle with its Device given a MIME-style (CRLF every 76 characters) carrierAIDC. */
async function withCarrierAidc(): Promise<{ bundle: Bundle; aidc: string }> {
  const text = await readFile(join(sharedDataDir('synthea'), PATIENT_FILE), 'utf8');
  const bundle = JSON.parse(text) as Bundle;
  const device = bundle.entry?.find((e) => e.resource?.resourceType === 'Device')?.resource as Device;
  if (!device?.udiCarrier?.[0]) throw new Error(`${PATIENT_FILE} has no Device with a udiCarrier any more`);
  const hrf = device.udiCarrier[0].carrierHRF ?? '';
  const aidc = Buffer.from(hrf.repeat(2))
    .toString('base64')
    .replace(/(.{76})/g, '$1\r\n');
  expect(aidc).toMatch(/\r\n/);
  device.udiCarrier[0].carrierAIDC = aidc;
  return { bundle, aidc };
}

describe('a US Core patient whose Device carries base64 with line breaks', () => {
  let dir = '';
  let file = '';
  let bundle: Bundle;
  let aidc = '';
  /** What its conditional references (`Practitioner?identifier=...`) resolve to, imported first. */
  let directories: string[] = [];
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'medledger-uscore-'));
    ({ bundle, aidc } = await withCarrierAidc());
    file = join(dir, PATIENT_FILE);
    await writeFile(file, JSON.stringify(bundle));
    directories = await writeReferencedDirectories([file], dir);
    await seedDataDir(join(dir, 'data'));
  });
  afterAll(async () => {
    await killEmbeddedAnvil(join(dir, 'data'));
    await rm(dir, { recursive: true, force: true });
  });

  it('imports whole with medledger import', async () => {
    const { stdout } = await exec(
      process.execPath,
      ['bin/medledger.js', 'import', ...directories, file, '--data-dir', join(dir, 'data'), '--json'],
      { timeout: 120_000 },
    );
    const summary = JSON.parse(stdout) as {
      failed: number;
      failures: unknown[];
      byType: Record<string, { created: number }>;
    };
    expect(summary.failures).toEqual([]);
    expect(summary.failed).toBe(0);
    expect(summary.byType.Device?.created).toBe(1);
    expect(summary.byType.Observation?.created).toBe(
      bundle.entry?.filter((e) => e.resource?.resourceType === 'Observation').length,
    );
  }, 150_000);

  describe('through the API', () => {
    let t: TestNode;
    beforeAll(async () => {
      t = await startTestNode();
    });
    afterAll(async () => t?.stop());

    it('a transaction of the patient succeeds and the Device reads back as written', async () => {
      const authorization = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
      // The directory entries it names by import; the patient by the API.
      const loaded = await importFiles(t.node, directories, { operator: 'test' });
      expect(loaded.failed).toBe(0);
      const response = await fetch(`${t.fhirUrl}/`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(bundle),
      });
      const answer = (await response.json()) as Bundle;
      expect(response.status, JSON.stringify(answer).slice(0, 500)).toBe(200);
      const entries = answer.entry ?? [];
      expect(entries).toHaveLength(bundle.entry?.length ?? -1);
      expect(entries.every((e: BundleEntry) => e.response?.status?.startsWith('201'))).toBe(true);
      const location =
        entries[(bundle.entry ?? []).findIndex((e) => e.resource?.resourceType === 'Device')]?.response
          ?.location;
      const device = (await (
        await fetch(`${t.fhirUrl}/${location?.replace(/^.*\/fhir\//, '').replace(/\/_history\/.*$/, '')}`, {
          headers: { authorization },
        })
      ).json()) as Device;
      expect(device.udiCarrier?.[0]?.carrierAIDC).toBe(aidc);
    }, 120_000);
  });
});
