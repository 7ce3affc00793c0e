import { Client } from 'fhir-kit-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

describe('FHIR REST API through a third-party client (fhir-kit-client)', () => {
  let t: TestNode;
  let client: Client;

  beforeAll(async () => {
    t = await startTestNode();
    const authorization = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    client = new Client({ baseUrl: t.fhirUrl, customHeaders: { authorization } });
  });
  afterAll(async () => t?.stop());

  it('creates, reads, updates with If-Match, patches and deletes a resource', async () => {
    const created = (await client.create({
      resourceType: 'Patient',
      body: { resourceType: 'Patient', name: [{ family: 'Chalmers', given: ['Peter'] }], gender: 'male' },
    })) as unknown as {
      id: string;
      meta: { versionId: string };
      identifier?: { system: string; value: string }[];
    };
    expect(created.meta.versionId).toBe('1');
    // Stored as written: the server adds no identifier (a chain address comes from the patient).
    expect(created.identifier).toBeUndefined();
    const read = (await client.read({ resourceType: 'Patient', id: created.id })) as unknown as {
      name: unknown;
    };
    expect(read.name).toEqual([{ family: 'Chalmers', given: ['Peter'] }]);
    const updated = (await client.update({
      resourceType: 'Patient',
      id: created.id,
      body: { ...created, resourceType: 'Patient', gender: 'other' },
      options: { headers: { 'if-match': 'W/"1"' } },
    })) as unknown as { meta: { versionId: string }; gender: string };
    expect(updated).toMatchObject({ gender: 'other', meta: { versionId: '2' } });
    await expect(
      client.update({
        resourceType: 'Patient',
        id: created.id,
        body: { ...created, resourceType: 'Patient', gender: 'female' },
        options: { headers: { 'if-match': 'W/"1"' } },
      }),
    ).rejects.toMatchObject({ response: { status: 412 } });
    const patched = (await client.patch({
      resourceType: 'Patient',
      id: created.id,
      jsonPatch: [{ op: 'replace', path: '/gender', value: 'female' }],
    })) as unknown as { gender: string; meta: { versionId: string } };
    expect(patched).toMatchObject({ gender: 'female', meta: { versionId: '3' } });
    const history = (await client.history({ resourceType: 'Patient', id: created.id })) as unknown as {
      entry: unknown[];
    };
    expect(history.entry).toHaveLength(3);
    const v1 = (await client.vread({ resourceType: 'Patient', id: created.id, version: '1' })) as unknown as {
      gender: string;
    };
    expect(v1.gender).toBe('male');
    await client.delete({ resourceType: 'Patient', id: created.id });
    await expect(client.read({ resourceType: 'Patient', id: created.id })).rejects.toMatchObject({
      response: { status: 410 },
    });
  });

  it('searches with paging links and _include', async () => {
    const org = (await client.create({
      resourceType: 'Organization',
      body: {
        resourceType: 'Organization',
        name: 'Paging Clinic',
        identifier: [{ system: 'urn:test:org', value: 'pc-1' }],
      },
    })) as unknown as { id: string };
    for (let i = 0; i < 5; i++) {
      await client.create({
        resourceType: 'Patient',
        body: {
          resourceType: 'Patient',
          name: [{ family: `Pager${i}`, given: ['Zoë'] }],
          managingOrganization: { reference: `Organization/${org.id}` },
        },
      });
    }
    const first = (await client.search({
      resourceType: 'Patient',
      searchParams: { given: 'zoe', _count: '2', _sort: 'family', _include: 'Patient:organization' },
    })) as unknown as {
      total: number;
      entry: { resource: { resourceType: string; name?: { family: string }[] }; search: { mode: string } }[];
      link: { relation: string }[];
    };
    expect(first.total).toBe(5);
    const matches = first.entry.filter((e) => e.search.mode === 'match');
    expect(matches.map((e) => e.resource.name?.[0]?.family)).toEqual(['Pager0', 'Pager1']);
    expect(
      first.entry.filter((e) => e.search.mode === 'include').map((e) => e.resource.resourceType),
    ).toEqual(['Organization']);
    const second = (await client.nextPage({ bundle: first as never })) as unknown as typeof first;
    expect(
      second.entry.filter((e) => e.search.mode === 'match').map((e) => e.resource.name?.[0]?.family),
    ).toEqual(['Pager2', 'Pager3']);
    const third = (await client.nextPage({ bundle: second as never })) as unknown as typeof first;
    expect(third.link.some((l) => l.relation === 'next')).toBe(false);
    expect(third.link.some((l) => l.relation === 'previous')).toBe(true);
  });

  it('runs a transaction with urn:uuid references and ifNoneExist atomically', async () => {
    const orgUrn = 'urn:uuid:7f9c2a1e-0000-4000-8000-000000000001';
    const bundle = {
      resourceType: 'Bundle',
      type: 'transaction',
      entry: [
        {
          fullUrl: orgUrn,
          resource: {
            resourceType: 'Organization',
            name: 'Tx Org',
            identifier: [{ system: 'urn:test:org', value: 'tx-1' }],
          },
          request: { method: 'POST', url: 'Organization', ifNoneExist: 'identifier=urn:test:org|tx-1' },
        },
        {
          fullUrl: 'urn:uuid:7f9c2a1e-0000-4000-8000-000000000002',
          resource: {
            resourceType: 'Patient',
            name: [{ family: 'Txpatient' }],
            managingOrganization: { reference: orgUrn },
          },
          request: { method: 'POST', url: 'Patient' },
        },
      ],
    };
    const response = (await client.transaction({ body: bundle })) as unknown as {
      entry: { response: { status: string; location: string } }[];
    };
    expect(response.entry.map((e) => e.response.status)).toEqual(['201', '201']);
    const orgId = response.entry[0]!.response.location.split('/')[1];
    const patientId = response.entry[1]!.response.location.split('/')[1];
    const patient = (await client.read({ resourceType: 'Patient', id: patientId! })) as unknown as {
      managingOrganization: { reference: string };
    };
    expect(patient.managingOrganization.reference).toBe(`Organization/${orgId}`);
    // ifNoneExist: the second run finds the organization instead of creating another one.
    const again = (await client.transaction({ body: bundle })) as unknown as typeof response;
    expect(again.entry[0]!.response.status).toBe('200');
    const orgs = (await client.search({
      resourceType: 'Organization',
      searchParams: { identifier: 'urn:test:org|tx-1' },
    })) as unknown as { total: number };
    expect(orgs.total).toBe(1);
    // A failing entry rolls the whole transaction back.
    const versionsBefore = await t.countRows('record_versions');
    await expect(
      client.transaction({
        body: {
          resourceType: 'Bundle',
          type: 'transaction',
          entry: [
            {
              resource: { resourceType: 'Patient', name: [{ family: 'Rolledback' }] },
              request: { method: 'POST', url: 'Patient' },
            },
            {
              resource: { resourceType: 'Observation', status: 'not-a-status' },
              request: { method: 'POST', url: 'Observation' },
            },
          ],
        },
      }),
    ).rejects.toMatchObject({ response: { status: 400 } });
    expect(await t.countRows('record_versions')).toBe(versionsBefore);
    const rolled = (await client.search({
      resourceType: 'Patient',
      searchParams: { family: 'Rolledback' },
    })) as unknown as { total: number };
    expect(rolled.total).toBe(0);
  });

  it('serves a CapabilityStatement with the SMART endpoints', async () => {
    const cs = (await client.capabilityStatement()) as unknown as {
      fhirVersion: string;
      rest: {
        security: { extension: { extension: { url: string; valueUri: string }[] }[] };
        resource: { type: string; searchParam: { name: string }[] }[];
      }[];
    };
    expect(cs.fhirVersion).toBe('4.0.1');
    const uris = cs.rest[0]!.security.extension[0]!.extension;
    expect(uris.find((u) => u.url === 'token')?.valueUri).toMatch(/\/auth\/token$/);
    expect(uris.find((u) => u.url === 'revoke')?.valueUri).toMatch(/\/auth\/revoke$/);
    expect(uris.find((u) => u.url === 'introspect')?.valueUri).toMatch(/\/auth\/introspect$/);
    const observation = cs.rest[0]!.resource.find((r) => r.type === 'Observation');
    expect(observation?.searchParam.map((p) => p.name)).toContain('code');
  });
});
