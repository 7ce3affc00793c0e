/**
 * The one door, as a property: over random sequences of creates, updates that move a resource
 * between patients, deletes and re-creates of deleted ids, what each caller receives on every read
 * path — read, vread, instance history, type history, search, `_summary=count` and `total` — equals
 * what a reference model of "the versions this caller may see" predicts. A version is visible when
 * the caller may see every patient of its compartment (a deletion: of the content it removed).
 * `_include` and `$everything` are checked the same way.
 * Runs on PGlite and on the PostgreSQL server.
 */
import type { Bundle } from '@medplum/fhirtypes';
import fc from 'fast-check';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServerDatabase } from '../store/testing/databases.ts';
import { startTestNode, type TestNode } from './testing/startTestNode.ts';

const PATIENTS = 3;
/** Histories per back end (MEDLEDGER_ONE_DOOR_RUNS for a deeper run, e.g. 200). */
const RUNS = Number(process.env.MEDLEDGER_ONE_DOOR_RUNS ?? 12);

type Step =
  | { op: 'create'; patient: number }
  | { op: 'move'; target: number; patient: number }
  | { op: 'delete'; target: number }
  | { op: 'recreate'; target: number; patient: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ op: fc.constant('create' as const), patient: fc.nat(PATIENTS - 1) }),
  fc.record({ op: fc.constant('move' as const), target: fc.nat(9), patient: fc.nat(PATIENTS - 1) }),
  fc.record({ op: fc.constant('delete' as const), target: fc.nat(9) }),
  fc.record({ op: fc.constant('recreate' as const), target: fc.nat(9), patient: fc.nat(PATIENTS - 1) }),
);

const create = fc.record({ op: fc.constant('create' as const), patient: fc.nat(PATIENTS - 1) });
/** A few resources first, then anything: moves, deletes, re-creates, more creates. */
const history: fc.Arbitrary<Step[]> = fc
  .tuple(fc.array(create, { minLength: 1, maxLength: 3 }), fc.array(step, { minLength: 1, maxLength: 10 }))
  .map(([first, rest]) => [...first, ...rest]);

/** A version in the model: its patient (a deletion: the patient of the content it removed). */
interface ModelVersion {
  version: number;
  patient: number;
  deleted: boolean;
}

describe.each([{ name: 'PGlite' }, { name: 'the PostgreSQL server' }])(
  'one door, property over random histories, on $name',
  ({ name }) => {
    let t: TestNode;
    let dropDatabase: (() => Promise<void>) | undefined;
    let ehr: string;
    const accounts = Array.from({ length: PATIENTS }, () => privateKeyToAccount(generatePrivateKey()));
    const member = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
    const patientIds: string[] = [];
    /** Each actor's token, and which patients (by index) it may see. */
    const actors: { name: string; token: string; sees: Set<number>; scope: (code: string) => string }[] = [];

    beforeAll(async () => {
      let env: Record<string, string> = {};
      if (name !== 'PGlite') {
        const database = await createServerDatabase('medledger_one_door');
        dropDatabase = database.drop;
        env = { DATABASE_URL: database.url };
      }
      t = await startTestNode({ env });
      ehr = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
      for (const [i, account] of accounts.entries()) {
        patientIds.push(
          await t.create(
            {
              resourceType: 'Patient',
              name: [{ family: `P${i}` }],
              identifier: [{ system: 'urn:medledger:address', value: account.address.toLowerCase() }],
            },
            ehr,
          ),
        );
      }
      await t.grant(accounts[0]!, member, { resourceTypes: ['Observation', 'Patient'], purposes: ['TREAT'] });
      const everyone = new Set(Array.from({ length: PATIENTS }, (_, i) => i));
      actors.push({ name: 'ehr', token: ehr, sees: everyone, scope: (code) => `code=${code}` });
      for (const i of [0, 1]) {
        actors.push({
          name: `patient${i}`,
          token: await t.bearer({
            kind: 'patient',
            scope: 'patient/*.rs',
            patient: patientIds[i],
            address: accounts[i]!.address.toLowerCase(),
          }),
          sees: new Set([i]),
          scope: (code) => `code=${code}`,
        });
      }
      actors.push({
        name: 'member with consent of patient0',
        token: await t.bearer({ kind: 'system', scope: 'system/*.rs', address: member, internal: false }),
        sees: new Set([0]),
        scope: (code) => `code=${code}&subject=Patient/${patientIds[0]}`,
      });
    }, 120_000);
    afterAll(async () => {
      await t?.stop();
      await dropDatabase?.();
    });

    const call = async (token: string, method: string, path: string, body?: unknown) => {
      const r = await fetch(`${t.fhirUrl}/${path}`, {
        method,
        headers: { authorization: token, ...(body ? { 'content-type': 'application/fhir+json' } : {}) },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await r.text();
      return { status: r.status, body: (text ? JSON.parse(text) : {}) as Bundle & Record<string, unknown> };
    };

    it('what every caller receives equals the model of the versions it may see', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(history, async (steps) => {
          run++;
          // Type history and $everything are read from this run's start, so a run costs the same
          // whatever ran before it (every listing is also restricted to this run's ids below).
          const since = new Date().toISOString();
          const code = `one-door-${name.length}-${run}-${Date.now()}`;
          const observation = (patient: number, id?: string) => ({
            resourceType: 'Observation',
            ...(id ? { id } : {}),
            status: 'final',
            code: { coding: [{ system: 'urn:test', code }] },
            subject: { reference: `Patient/${patientIds[patient]}` },
          });
          const model = new Map<string, ModelVersion[]>();
          const ids = () => [...model.keys()];
          for (const s of steps) {
            if (s.op === 'create') {
              const id = await t.create(observation(s.patient), ehr);
              model.set(id, [{ version: 1, patient: s.patient, deleted: false }]);
              continue;
            }
            const id = ids()[s.target % Math.max(1, ids().length)];
            if (id === undefined) continue;
            const versions = model.get(id) as ModelVersion[];
            const last = versions[versions.length - 1] as ModelVersion;
            const next = last.version + 1;
            if (s.op === 'delete') {
              const r = await call(ehr, 'DELETE', `Observation/${id}`);
              expect(r.status).toBeLessThan(300);
              if (!last.deleted) versions.push({ version: next, patient: last.patient, deleted: true });
            } else if (s.op === 'move' && !last.deleted) {
              const r = await call(ehr, 'PUT', `Observation/${id}`, observation(s.patient, id));
              expect(r.status).toBe(200);
              versions.push({ version: next, patient: s.patient, deleted: false });
            } else if (s.op === 'recreate' && last.deleted) {
              const r = await call(ehr, 'PUT', `Observation/${id}`, observation(s.patient, id));
              // A deleted id is never re-used for another patient's record.
              if (s.patient === last.patient) {
                expect(r.status).toBeLessThan(300);
                versions.push({ version: next, patient: s.patient, deleted: false });
              } else expect(r.status).toBe(409);
            }
          }

          for (const actor of actors) {
            const visible = (v: ModelVersion) => actor.sees.has(v.patient);
            const where = `${actor.name}, steps ${JSON.stringify(steps)}`;
            for (const [id, versions] of model) {
              const current = versions[versions.length - 1] as ModelVersion;
              const read = await call(actor.token, 'GET', `Observation/${id}`);
              expect(read.status, `read ${id} as ${where}`).toBe(
                !visible(current) ? 404 : current.deleted ? 410 : 200,
              );
              if (read.status === 200)
                expect(read.body.subject).toEqual({ reference: `Patient/${patientIds[current.patient]}` });
              for (const v of versions) {
                const vread = await call(actor.token, 'GET', `Observation/${id}/_history/${v.version}`);
                expect(vread.status, `vread ${id}/${v.version} as ${where}`).toBe(
                  !visible(v) ? 404 : v.deleted ? 410 : 200,
                );
              }
              const seen = versions.filter(visible).reverse();
              const history = await call(actor.token, 'GET', `Observation/${id}/_history`);
              if (seen.length === 0) expect(history.status, `history ${id} as ${where}`).toBe(404);
              else {
                expect(history.status, `history ${id} as ${where}`).toBe(200);
                expect(history.body.total).toBe(seen.length);
                expect(
                  (history.body.entry ?? []).map((e) => [e.response?.etag, e.request?.method === 'DELETE']),
                  `history ${id} as ${where}`,
                ).toEqual(seen.map((v) => [`W/"${v.version}"`, v.deleted]));
                for (const e of history.body.entry ?? [])
                  if (e.resource)
                    expect(actor.sees.has(patientIds.indexOf(subjectOf(e.resource)))).toBe(true);
              }
            }
            // Type history, restricted to this run's ids.
            const typeHistory = await call(
              actor.token,
              'GET',
              `Observation/_history?_count=1000&_since=${since}`,
            );
            expect(typeHistory.status).toBe(200);
            const listed = (typeHistory.body.entry ?? [])
              .map((e) => [e.fullUrl?.split('/').pop() ?? '', e.response?.etag ?? ''] as const)
              .filter(([id]) => model.has(id))
              .map(([id, etag]) => `${id}@${etag}`)
              .sort();
            const expected = [...model]
              .flatMap(([id, versions]) => versions.filter(visible).map((v) => `${id}@W/"${v.version}"`))
              .sort();
            expect(listed, `type history as ${where}`).toEqual(expected);
            // Search, its total and _summary=count: the current live versions the caller may see.
            const matching = [...model]
              .filter(([, versions]) => {
                const current = versions[versions.length - 1] as ModelVersion;
                return !current.deleted && visible(current);
              })
              .map(([id]) => id)
              .sort();
            const search = await call(actor.token, 'GET', `Observation?${actor.scope(code)}&_total=accurate`);
            expect(search.status, `search as ${where}`).toBe(200);
            expect((search.body.entry ?? []).map((e) => e.resource?.id).sort(), `search as ${where}`).toEqual(
              matching,
            );
            expect(search.body.total, `total as ${where}`).toBe(matching.length);
            const count = await call(actor.token, 'GET', `Observation?${actor.scope(code)}&_summary=count`);
            expect(count.body.total, `_summary=count as ${where}`).toBe(matching.length);
            // _include: the patients of the matches, each one the caller may see.
            const included = await call(
              actor.token,
              'GET',
              `Observation?${actor.scope(code)}&_include=Observation:subject`,
            );
            const includedPatients = (included.body.entry ?? [])
              .filter((e) => e.search?.mode === 'include')
              .map((e) => e.resource?.id)
              .sort();
            const expectedPatients = [
              ...new Set(
                matching.map((id) => {
                  const versions = model.get(id) as ModelVersion[];
                  return patientIds[(versions[versions.length - 1] as ModelVersion).patient];
                }),
              ),
            ].sort();
            expect(includedPatients, `_include as ${where}`).toEqual(expectedPatients);
            // $everything of each patient: 404 unless the caller may see them; else their current records.
            for (const [k, patientId] of patientIds.entries()) {
              const all = await call(actor.token, 'GET', `Patient/${patientId}/$everything?_since=${since}`);
              if (!actor.sees.has(k)) {
                expect(all.status, `$everything of patient${k} as ${where}`).toBe(404);
                continue;
              }
              expect(all.status, `$everything of patient${k} as ${where}`).toBe(200);
              const listed = (all.body.entry ?? [])
                .map((e) => e.resource?.id ?? '')
                .filter((id) => model.has(id))
                .sort();
              const current = [...model]
                .filter(([, versions]) => {
                  const last = versions[versions.length - 1] as ModelVersion;
                  return !last.deleted && last.patient === k;
                })
                .map(([id]) => id)
                .sort();
              expect(listed, `$everything of patient${k} as ${where}`).toEqual(current);
            }
          }
        }),
        { numRuns: RUNS },
      );
    }, 600_000);
  },
);

function subjectOf(resource: unknown): string {
  const reference = (resource as { subject?: { reference?: string } }).subject?.reference ?? '';
  return reference.replace(/^Patient\//, '');
}
