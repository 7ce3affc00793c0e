import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForOutboxEntry } from '../../chain/outbox/outboxEntry.ts';
import { standaloneReportCheck } from '../../verify/standaloneReportCheck.ts';
import { verifyBundleWithCli } from '../../verify/testing/verifyBundleWithCli.ts';
import { ADDRESS_SYSTEM } from '../patientCompartment.ts';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';

describe('audit routes: access report, AuditEvent search, proofs', () => {
  let t: TestNode;
  let admin = '';
  let asPatient = '';
  let patientId = '';
  let observationId = '';
  const patient = privateKeyToAccount(generatePrivateKey());
  const outsider = privateKeyToAccount(generatePrivateKey()).address.toLowerCase();

  const get = async (token: string, path: string) => {
    const r = await fetch(`${t.fhirUrl}/${path}`, { headers: { authorization: token } });
    return { status: r.status, body: (await r.json()) as Record<string, unknown> };
  };

  /** Anchors every pending audit event and record version, and waits for the chain and the indexer. */
  const anchorEverything = async () => {
    await t.node.audit.flush();
    const batches = [...(await t.node.recordBatcher.flush()), ...(await t.node.auditBatcher.flush())];
    t.node.outbox.notify();
    for (const b of batches) {
      const state = await waitForOutboxEntry(t.node.db, b.outboxId!);
      expect(state.status).toBe('confirmed');
      await t.node.indexer.waitForBlock(state.blockNumber!);
    }
  };

  beforeAll(async () => {
    t = await startTestNode();
    admin = await t.bearer({ kind: 'system', scope: 'system/*.cruds' });
    const post = async (body: Record<string, unknown>) => {
      const r = await fetch(`${t.fhirUrl}/${body.resourceType}`, {
        method: 'POST',
        headers: { authorization: admin, 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
      expect(r.status).toBe(201);
      return ((await r.json()) as { id: string }).id;
    };
    patientId = await post({
      resourceType: 'Patient',
      name: [{ family: 'Nakamura', given: ['Aiko'] }],
      identifier: [{ system: ADDRESS_SYSTEM, value: patient.address.toLowerCase() }],
    });
    observationId = await post({
      resourceType: 'Observation',
      status: 'final',
      code: { text: 'Potassium' },
      subject: { reference: `Patient/${patientId}` },
    });
    asPatient = await t.bearer({
      kind: 'patient',
      scope: 'patient/*.rs',
      patient: patientId,
      address: patient.address.toLowerCase(),
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("the patient's access report lists who read, including a denied outsider, and its proofs verify with viem alone", async () => {
    const asOutsider = await t.bearer({
      kind: 'system',
      scope: 'system/*.rs',
      address: outsider,
      internal: false,
    });
    expect((await get(asOutsider, `Observation/${observationId}`)).status).toBe(404);
    expect((await get(admin, `Observation/${observationId}`)).status).toBe(200);
    await anchorEverything();

    const report = await get(asPatient, `Patient/${patientId}/$access-report`);
    expect(report.status).toBe(200);
    const entries = (report.body.entry ?? []) as Array<{ resource: { outcome: string; agent: unknown[] } }>;
    const outcomes = entries.map((e) => e.resource.outcome);
    expect(outcomes).toContain('4'); // the outsider's denied read
    expect(outcomes).toContain('0'); // the custodian's read
    expect(JSON.stringify(entries)).toContain(outsider);

    const checked = await standaloneReportCheck(report.body, { rpcUrl: t.node.chain.rpcUrl });
    expect(checked.ok).toBe(true);

    // The same report, saved, checked by the CLI against the chain with no database.
    expect(await verifyBundleWithCli(report.body, t.node.chain.rpcUrl)).toMatchObject({ ok: true });
  });

  it('reading the report is itself audited, and another patient cannot read it', async () => {
    const before = await t.countRows('audit_events');
    expect((await get(asPatient, `Patient/${patientId}/$access-report`)).status).toBe(200);
    expect(await t.countRows('audit_events')).toBe(before + 1);

    const stranger = await t.bearer({ kind: 'patient', scope: 'patient/*.rs', patient: 'someone-else' });
    expect((await get(stranger, `Patient/${patientId}/$access-report`)).status).toBe(404);
    expect((await get(stranger, `AuditEvent?patient=Patient/${patientId}`)).status).toBe(404);
  });

  it("AuditEvent?patient= returns the patient's events; proofs are served for events and record versions", async () => {
    const search = await get(asPatient, `AuditEvent?patient=Patient/${patientId}&outcome=4`);
    expect(search.status).toBe(200);
    const found = (search.body.entry ?? []) as Array<{ resource: { id: string; outcome: string } }>;
    expect(found.length).toBeGreaterThan(0);
    expect(found.every((e) => e.resource.outcome === '4')).toBe(true);

    await anchorEverything();
    const eventProof = await get(admin, `AuditEvent/${found[0]!.resource.id}/$proof`);
    expect(eventProof.status).toBe(200);
    expect(eventProof.body.resourceType).toBe('Parameters');

    const versionProof = await get(asPatient, `Observation/${observationId}/_history/1/$proof`);
    expect(versionProof.status).toBe(200);
    expect(JSON.stringify(versionProof.body)).toContain('anchored');
  });
});
