/**
 * Issue 20, SMART v2 granular scopes (`patient/Observation.rs?category=laboratory`) enforced:
 * before, such a scope granted nothing at all; now it grants exactly the resources matching its
 * restriction, on reads, searches and writes, and nothing on routes that are not decided per
 * resource. The authorization server grants a restriction asked for within what a client is
 * registered for.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { intersectScopes, scopeAllows } from '../../src/access/scopes.ts';
import { startTestNode, type TestNode } from '../../src/fhir/testing/startTestNode.ts';

const CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
const LAB = 'patient/Observation.crs?category=laboratory';

describe('granular scopes grant what matches their restriction, and only that', () => {
  let t: TestNode;
  const ids = { alice: '', lab: '', vital: '' };
  const observation = (category: string, text: string) => ({
    resourceType: 'Observation',
    status: 'final',
    category: [{ coding: [{ system: CATEGORY, code: category }] }],
    code: { text },
    subject: { reference: `Patient/${ids.alice}` },
  });
  const call = async (authorization: string, method: string, path: string, body?: unknown) => {
    const response = await fetch(`${t.fhirUrl}/${path}`, {
      method,
      headers: { authorization, ...(body === undefined ? {} : { 'content-type': 'application/fhir+json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return {
      status: response.status,
      body: (await response.json().catch(() => undefined)) as ReturnType<typeof JSON.parse>,
    };
  };

  beforeAll(async () => {
    t = await startTestNode();
    const ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    ids.alice = await t.create({ resourceType: 'Patient', name: [{ family: 'Granular' }] }, ehr);
    ids.lab = await t.create(observation('laboratory', 'potassium'), ehr);
    ids.vital = await t.create(observation('vital-signs', 'pulse'), ehr);
  });
  afterAll(async () => t?.stop());

  it('reads and searches answer only the matching records', async () => {
    const token = await t.bearer({ kind: 'patient', scope: LAB, patient: ids.alice });
    expect((await call(token, 'GET', `Observation/${ids.lab}`)).status).toBe(200);
    const vital = await call(token, 'GET', `Observation/${ids.vital}`);
    expect([403, 404]).toContain(vital.status);
    expect(JSON.stringify(vital.body)).not.toContain('pulse');
    const found = await call(token, 'GET', `Observation?patient=${ids.alice}`);
    expect(found.status).toBe(200);
    expect(found.body.entry.map((e: { resource: { id: string } }) => e.resource.id)).toEqual([ids.lab]);
    // Another type, and a route not decided per resource, are not covered by the scope.
    expect((await call(token, 'GET', `Patient/${ids.alice}`)).status).toBe(403);
    expect((await call(token, 'GET', `Patient/${ids.alice}/Consent`)).status).toBe(403);
  });

  it('writes are allowed only for what matches', async () => {
    const token = await t.bearer({ kind: 'patient', scope: LAB, patient: ids.alice });
    expect((await call(token, 'POST', 'Observation', observation('laboratory', 'home glucose'))).status).toBe(
      201,
    );
    const refused = await call(token, 'POST', 'Observation', observation('vital-signs', 'home pulse'));
    expect(refused.status).toBe(403);
    expect(refused.body.resourceType).toBe('OperationOutcome');
  });

  it('the restriction is granted within the registration, and is nothing where resources are not checked', () => {
    expect(intersectScopes([LAB], ['patient/*.cruds'])).toEqual([LAB]);
    expect(intersectScopes(['patient/Observation.rs'], [LAB])).toEqual([
      'patient/Observation.rs?category=laboratory',
    ]);
    expect(intersectScopes(['patient/Observation.rs?category=vital-signs'], [LAB])).toEqual([]);
    const request = { context: 'patient' as const, resourceType: 'Observation', interaction: 'r' as const };
    expect(scopeAllows(LAB, request)).toBe(false);
    expect(scopeAllows(LAB, { ...request, guarded: true })).toBe(true);
  });
});
