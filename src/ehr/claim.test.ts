import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADDRESS_SYSTEM } from '../fhir/patientCompartment.ts';
import { sharedDataDir } from '../fhir/testing/sharedData.ts';
import { startTestNode, type TestNode } from '../fhir/testing/startTestNode.ts';
import { importFiles } from './importFiles.ts';
import { claimMessage } from './patientClaims.ts';

describe('import of NDJSON and the patient claim', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('an NDJSON file with one bad line in five imports the good lines and reports the bad line', async () => {
    const file = join(sharedDataDir('negative'), 'msfhir__Import-InvalidPatient.ndjson');
    const summary = await importFiles(t.node, [file]);
    expect(summary.byType.Patient?.created).toBe(4);
    expect(summary.failed).toBe(1);
    expect(summary.failures).toEqual([
      expect.objectContaining({ file, line: 4, reason: expect.stringMatching(/not valid JSON/) }),
    ]);
    expect(summary.claims).toHaveLength(4);
    const again = await importFiles(t.node, [file]);
    expect(again.byType.Patient).toEqual({ created: 0, updated: 0, unchanged: 4, failed: 0 });
  });

  it('a claim code binds the patient’s own key once and is refused the second time', async () => {
    const file = join(sharedDataDir('synthea'), 'Chet_Thompson_eda17701-070d-4fae-9f7d-c8cd6263b63a.json');
    const summary = await importFiles(t.node, [file]);
    const claim = summary.claims[0];
    if (!claim) throw new Error('no claim code issued');
    const patientId = claim.patient.replace('Patient/', '');
    const key = privateKeyToAccount(generatePrivateKey());
    const body = {
      claimCode: claim.claimCode,
      newAddress: key.address,
      signature: await key.signMessage({ message: claimMessage(patientId, claim.claimCode) }),
    };
    const post = (b: unknown) =>
      fetch(`${t.fhirUrl}/Patient/${patientId}/$claim`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(b),
      });

    // $claim-check answers before any key is made, and spends nothing.
    const check = (claimCode: string) =>
      fetch(`${t.fhirUrl}/Patient/${patientId}/$claim-check`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify({ claimCode }),
      });
    expect((await check('AAAAA-AAAAA-AAAAA-AAAAA')).status).toBe(400);
    const valid = await check(claim.claimCode.toLowerCase());
    expect(valid.status).toBe(200);
    expect(await valid.json()).toEqual({ valid: true });

    const wrongSigner = privateKeyToAccount(generatePrivateKey());
    const forged = await post({
      ...body,
      signature: await wrongSigner.signMessage({ message: claimMessage(patientId, claim.claimCode) }),
    });
    expect(forged.status).toBe(400);
    const wrongCode = await post({ ...body, claimCode: 'AAAAA-AAAAA-AAAAA-AAAAA' });
    expect(wrongCode.status).toBe(400);

    const first = await post(body);
    expect(first.status).toBe(200);
    const patient = (await first.json()) as Patient;
    const addresses = patient.identifier?.filter((i) => i.system === ADDRESS_SYSTEM);
    expect(addresses).toEqual([{ system: ADDRESS_SYSTEM, value: key.address.toLowerCase() }]);
    expect(patient.meta?.versionId).toBe('2');

    const second = await post(body);
    expect(second.status).toBe(409);
    const outcome = (await second.json()) as { issue: { details: { text: string } }[] };
    expect(outcome.issue[0]?.details.text).toMatch(/already used/);
    // Once used, the check says so: the portal sends the patient to their recovery phrase.
    const used = await check(claim.claimCode);
    expect(used.status).toBe(409);
    expect(((await used.json()) as { issue: { code: string }[] }).issue[0]?.code).toBe('conflict');
  });
});
