import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

describe('the FHIR HTTP edge', () => {
  let t: TestNode;
  let authorization: string;
  const send = (path: string, init: RequestInit = {}) =>
    fetch(`${t.fhirUrl}/${path}`, { ...init, headers: { authorization, ...(init.headers as object) } });
  const patient = JSON.stringify({ resourceType: 'Patient', name: [{ family: 'Edge' }] });

  beforeAll(async () => {
    t = await startTestNode();
    authorization = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
  });
  afterAll(async () => t?.stop());

  it('sets Location, ETag and Last-Modified on create, and honours Prefer: return=minimal', async () => {
    const r = await send('Patient', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json', prefer: 'return=minimal' },
      body: patient,
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('location')).toMatch(/\/fhir\/Patient\/[^/]+\/_history\/1$/);
    expect(r.headers.get('etag')).toBe('W/"1"');
    expect(Date.parse(r.headers.get('last-modified') ?? '')).not.toBeNaN();
    expect(await r.text()).toBe('');
  });

  it('accepts a UTF-8 BOM and application/json; answers _pretty', async () => {
    const r = await send('Patient?_pretty=true', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `\uFEFF${patient}`,
    });
    expect(r.status).toBe(201);
    expect(r.headers.get('content-type')).toContain('application/fhir+json');
    expect(await r.text()).toContain('\n  "');
  });

  it('answers bad bodies with 4xx OperationOutcomes and stores nothing', async () => {
    const before = await t.countRows('record_versions');
    const cases: [RequestInit, number][] = [
      [
        {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: '{"resourceType": "Patient",',
        },
        400,
      ],
      [{ method: 'POST', headers: { 'content-type': 'text/plain' }, body: patient }, 415],
      [
        {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: 'x'.repeat(17 * 1024 * 1024),
        },
        413,
      ],
      [{ method: 'POST', headers: { 'content-type': 'application/fhir+json' }, body: '[1,2]' }, 400],
      [
        {
          method: 'POST',
          headers: { 'content-type': 'application/fhir+json' },
          body: JSON.stringify({ resourceType: 'Patient', active: 'yes' }),
        },
        400,
      ],
    ];
    for (const [init, status] of cases) {
      const r = await send('Patient', init);
      expect(r.status).toBe(status);
      expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    }
    const invalid = await send('Patient', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({ resourceType: 'Patient', birthDate: 'yesterday' }),
    });
    const outcome = (await invalid.json()) as { issue: { expression?: string[] }[] };
    expect(outcome.issue[0]?.expression).toEqual(['Patient.birthDate']);
    expect(await t.countRows('record_versions')).toBe(before);
  });

  it('refuses XML with 406', async () => {
    expect((await send('Patient?_format=xml')).status).toBe(406);
  });

  it('applies a FHIRPath Patch', async () => {
    const created = (await (
      await send('Patient', {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: patient,
      })
    ).json()) as { id: string };
    const r = await send(`Patient/${created.id}`, {
      method: 'PATCH',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          {
            name: 'operation',
            part: [
              { name: 'type', valueCode: 'add' },
              { name: 'path', valueString: 'Patient' },
              { name: 'name', valueString: 'birthDate' },
              { name: 'value', valueDate: '1970-01-01' },
            ],
          },
        ],
      }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ birthDate: '1970-01-01', meta: { versionId: '2' } });
  });

  it('resolves a conditional reference on write', async () => {
    await send('Organization', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Organization',
        identifier: [{ system: 'urn:org', value: 'cond-1' }],
      }),
    });
    const r = await send('Patient', {
      method: 'POST',
      headers: { 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Patient',
        managingOrganization: { reference: 'Organization?identifier=urn:org|cond-1' },
      }),
    });
    expect(r.status).toBe(201);
    expect(
      ((await r.json()) as { managingOrganization: { reference: string } }).managingOrganization.reference,
    ).toMatch(/^Organization\/[0-9a-f-]+$/);
  });
});
