import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from './testing/canonicalFhir.ts';
import { sharedDataDir } from './testing/sharedData.ts';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

/**
 * Official HL7 R4 examples that are genuinely invalid, each with the reason (the HL7 Java
 * validator reports the same errors). They must be rejected with a 400 OperationOutcome (and
 * are therefore not round-tripped).
 */
const FULL_URL_MISMATCH =
  "a fullUrl that looks like a RESTful URL disagrees with its resource's id (R4 Bundle.entry.fullUrl: it SHALL NOT disagree with Resource.id), so references by fullUrl resolve to the wrong entry";
const INVALID_PER_VALIDATOR: Record<string, string> = {
  'Bundle-10bb101f-a121-4264-a920-67be9cb82c74.json': `entry[2] http://acme.com/ehr/fhir/Patient/pat12 holds Patient/pat2: ${FULL_URL_MISMATCH}`,
  'Bundle-3a0707d3-549e-4467-b8b8-5a2ab3800efe.json': `entry[3] http://acme.com/ehr/fhir/Patient/pat12 holds Patient/pat2: ${FULL_URL_MISMATCH}`,
  'Bundle-lri-example.json': `entries from 1 on (e.g. .../Observation/lri-gramstain1 holds Observation/gramstain1): ${FULL_URL_MISMATCH}`,
};

/**
 * Valid although a stricter validator once refused them: each is accepted and round-trips, so
 * that accepting it cannot silently turn back into refusing it.
 */
const VALID_PER_R4: Record<string, string> = {
  'DiagnosticReport-gingival-mass.json':
    'presentedForm[0].data (a 745 kB PDF) has a space every 76 characters: R4 base64Binary allows whitespace between groups of four',
  'Observation-decimal.json': 'decimals 1e18 and -1e245: R4 decimal has no range limit',
};

describe('every official HL7 R4 example round-trips through create and read', () => {
  const dir = sharedDataDir('hl7-examples');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  let t: TestNode;
  let authorization: string;

  beforeAll(async () => {
    t = await startTestNode();
    authorization = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
  });
  afterAll(async () => t?.stop());

  it('has the examples', () => {
    expect(files.length).toBeGreaterThan(200);
  });

  it('stores and serves each unchanged apart from id and meta', async () => {
    const failures: string[] = [];
    const rejected: string[] = [];
    for (const file of files) {
      const original = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { resourceType: string };
      const response = await fetch(`${t.fhirUrl}/${original.resourceType}`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(original),
      });
      const body = (await response.json()) as { id?: string; resourceType: string };
      if (response.status !== 201) {
        if (INVALID_PER_VALIDATOR[file] && response.status === 400) {
          rejected.push(file);
          continue;
        }
        failures.push(`${file}: create ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
        continue;
      }
      const read = await fetch(`${t.fhirUrl}/${original.resourceType}/${body.id}`, {
        headers: { authorization },
      });
      const served = await read.json();
      if (canonicalJson(served, { exact: true }) !== canonicalJson(original, { exact: true }))
        failures.push(`${file}: served content differs`);
    }
    expect(failures).toEqual([]);
    expect(rejected.sort()).toEqual(Object.keys(INVALID_PER_VALIDATOR).sort());
    for (const file of Object.keys(VALID_PER_R4)) expect(files).toContain(file);
  }, 120_000);

  it('stores each under its own id with PUT and serves it back equal apart from meta', async () => {
    const failures: string[] = [];
    let put = 0;
    for (const file of files) {
      if (INVALID_PER_VALIDATOR[file]) continue;
      const original = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        resourceType: string;
        id?: string;
      };
      if (!original.id) {
        failures.push(`${file}: has no id to PUT under`);
        continue;
      }
      const url = `${t.fhirUrl}/${original.resourceType}/${original.id}`;
      const response = await fetch(url, {
        method: 'PUT',
        headers: { authorization, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(original),
      });
      if (response.status !== 201 && response.status !== 200) {
        failures.push(`${file}: PUT ${response.status} ${(await response.text()).slice(0, 300)}`);
        continue;
      }
      await response.arrayBuffer();
      const served = (await (await fetch(url, { headers: { authorization } })).json()) as { id?: string };
      if (served.id !== original.id) failures.push(`${file}: served id ${served.id}`);
      else if (canonicalJson(served, { exact: true }) !== canonicalJson(original, { exact: true }))
        failures.push(`${file}: served content differs`);
      else put++;
    }
    expect(failures).toEqual([]);
    expect(put).toBe(files.length - Object.keys(INVALID_PER_VALIDATOR).length);
  }, 180_000);
});
