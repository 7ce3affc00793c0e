/**
 * Issue 20: chained (`subject.name`, `subject:Patient.name`, `patient.identifier`) and reverse
 * chained (`_has:Observation:patient:code`) searches, one level, token `:text` and uri `:above`/`:below`, with the third-party clients
 * integrators use (fhir-kit-client and @medplum/core's MedplumClient), and history paged through
 * `next` to the end with both. A chain never passes through a record the caller may not see, and
 * what cannot be answered is a 400 naming the parameter.
 */
import { MedplumClient } from '@medplum/core';
import type { Bundle, Observation, Patient } from '@medplum/fhirtypes';
import { Client } from 'fhir-kit-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';

describe('chained and _has search, and history paging, with third-party clients', () => {
  let t: TestNode;
  let kit: Client;
  let medplum: MedplumClient;
  let system = '';
  const ids = { smith: '', jones: '', smithObs: '', jonesObs: '', smithPulse: '' };

  const observation = (patient: string, code: string, text: string): Observation => ({
    resourceType: 'Observation',
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code }], text },
    subject: { reference: `Patient/${patient}` },
  });
  const idsOf = (bundle: Bundle) => (bundle.entry ?? []).map((e) => e.resource?.id).sort();

  beforeAll(async () => {
    t = await startTestNode();
    system = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    kit = new Client({ baseUrl: t.fhirUrl, customHeaders: { authorization: system } });
    medplum = new MedplumClient({
      baseUrl: t.fhirUrl.replace(/fhir$/, ''),
      fhirUrlPath: 'fhir/',
      fetch: (url: string, init?: RequestInit) => fetch(url, init),
    });
    medplum.setAccessToken(system.slice('Bearer '.length));
    ids.smith = await t.create(
      {
        resourceType: 'Patient',
        name: [{ family: 'Smith', given: ['Ann'] }],
        identifier: [{ system: 'urn:example:mrn', value: 'A1' }],
      },
      system,
    );
    ids.jones = await t.create({ resourceType: 'Patient', name: [{ family: 'Jones' }] }, system);
    ids.smithObs = await t.create(observation(ids.smith, '29463-7', 'body weight') as never, system);
    ids.smithPulse = await t.create(observation(ids.smith, '8867-4', 'heart rate') as never, system);
    ids.jonesObs = await t.create(observation(ids.jones, '29463-7', 'body weight') as never, system);
  });
  afterAll(async () => t?.stop());

  it('subject.name, subject:Patient.name and patient.identifier find the records of the chained patients', async () => {
    const byName = (await kit.search({
      resourceType: 'Observation',
      searchParams: { 'subject.name': 'Smith' },
    })) as unknown as Bundle;
    expect(idsOf(byName)).toEqual([ids.smithObs, ids.smithPulse].sort());
    // The links name the chain as asked, not the references it resolved to.
    expect(byName.link?.find((l) => l.relation === 'self')?.url).toContain('subject.name=Smith');
    const typed = await medplum.searchResources('Observation', 'subject:Patient.name=smith&code=29463-7');
    expect(typed.map((o) => o.id)).toEqual([ids.smithObs]);
    const byMrn = (await kit.search({
      resourceType: 'Observation',
      searchParams: { 'patient.identifier': 'urn:example:mrn|A1' },
    })) as unknown as Bundle;
    expect(idsOf(byMrn)).toEqual([ids.smithObs, ids.smithPulse].sort());
    // :text on a token is a string search of its text and displays (prefix of a word, any case).
    const heart = await medplum.searchResources('Observation', 'code:text=HEART');
    expect(heart.map((o) => o.id)).toEqual([ids.smithPulse]);
    const weights = await medplum.searchResources('Observation', 'code:text=weig&_count=10');
    expect(weights.map((o) => o.id).sort()).toEqual([ids.smithObs, ids.jonesObs].sort());
    const nobody = (await kit.search({
      resourceType: 'Observation',
      searchParams: { 'subject.name': 'Nobody' },
    })) as unknown as Bundle;
    expect(nobody.entry ?? []).toEqual([]);
  });

  it('_has finds the patients that have a matching observation', async () => {
    const withPulse = await medplum.searchResources('Patient', '_has:Observation:patient:code=8867-4');
    expect(withPulse.map((p: Patient) => p.id)).toEqual([ids.smith]);
    const withWeight = (await kit.search({
      resourceType: 'Patient',
      searchParams: { '_has:Observation:subject:code': '29463-7' },
    })) as unknown as Bundle;
    expect(idsOf(withWeight)).toEqual([ids.smith, ids.jones].sort());
  });

  it('a chain never passes through a record the caller may not see', async () => {
    // Jones's own token, in his compartment: Smith's Patient is not his to see, so the chain finds nothing.
    const jones = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: ids.jones });
    const response = await fetch(`${t.fhirUrl}/Patient/${ids.jones}/Observation?subject.name=Smith`, {
      headers: { authorization: jones },
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Bundle).entry ?? []).toEqual([]);
    const own = await fetch(`${t.fhirUrl}/Patient/${ids.jones}/Observation?subject.name=Jones`, {
      headers: { authorization: jones },
    });
    expect(idsOf((await own.json()) as Bundle)).toEqual([ids.jonesObs]);
  });

  it('uri :below and :above match by URL prefix', async () => {
    const acme = await t.create(
      { resourceType: 'Questionnaire', status: 'active', url: 'http://acme.org/fhir/Questionnaire/intake' },
      system,
    );
    await t.create({ resourceType: 'Questionnaire', status: 'active', url: 'http://other.org/q' }, system);
    const below = await medplum.searchResources('Questionnaire', 'url:below=http://acme.org/fhir/');
    expect(below.map((q) => q.id)).toEqual([acme]);
    const above = await medplum.searchResources(
      'Questionnaire',
      'url:above=http://acme.org/fhir/Questionnaire/intake/version/2',
    );
    expect(above.map((q) => q.id)).toEqual([acme]);
    expect((await medplum.searchResources('Questionnaire', 'url:below=http://nowhere.org/')).length).toBe(0);
  });

  it('what cannot be answered is a 400 naming the parameter', async () => {
    for (const query of [
      'Observation?subject.unknown=1',
      'Observation?subject.name.family=x',
      'Observation?code.name=x',
      'Observation?subject:Device.name=x',
      'Patient?_has:Observation:subject:unknown=1',
      'Patient?_has:Unknown:patient:code=1',
      'Patient?_has:Observation:encounter:code=1',
    ]) {
      const response = await fetch(`${t.fhirUrl}/${query}`, { headers: { authorization: system } });
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { resourceType: string; issue: { expression?: string[] }[] };
      expect(body.resourceType, query).toBe('OperationOutcome');
      expect(body.issue[0]?.expression?.[0], query).toBeTruthy();
    }
  });

  it('history pages through next to the end with both clients, deletions included', async () => {
    for (let v = 0; v < 6; v++)
      await kit.update({
        resourceType: 'Observation',
        id: ids.jonesObs,
        body: { ...observation(ids.jones, '29463-7', `body weight ${v}`), id: ids.jonesObs },
      });
    await kit.delete({ resourceType: 'Observation', id: ids.smithPulse });
    // 3 creates + 6 updates + 1 delete of Observations.
    let page = (await kit.history({
      resourceType: 'Observation',
      options: { _count: '3' },
    } as never)) as unknown as Bundle;
    const seen: string[] = [];
    for (;;) {
      for (const e of page.entry ?? []) seen.push(`${e.request?.method} ${e.request?.url}`);
      if (!page.link?.some((l) => l.relation === 'next')) break;
      page = (await kit.nextPage({ bundle: page } as never)) as unknown as Bundle;
    }
    expect(seen).toHaveLength(10);
    expect(seen.filter((s) => s.startsWith('DELETE'))).toEqual([`DELETE Observation/${ids.smithPulse}`]);

    const medplumSeen: string[] = [];
    let url: string | undefined = `${t.fhirUrl}/Observation/_history?_count=4`;
    while (url) {
      const bundle: Bundle = await medplum.get(url, { cache: 'no-cache' });
      for (const e of bundle.entry ?? []) medplumSeen.push(`${e.request?.method} ${e.request?.url}`);
      url = bundle.link?.find((l) => l.relation === 'next')?.url;
    }
    expect(medplumSeen.sort()).toEqual([...seen].sort());
  });
});
