import { join } from 'node:path';
import type { Patient } from '@medplum/fhirtypes';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importFiles } from '../../ehr/importFiles.ts';
import { ADDRESS_SYSTEM } from '../patientCompartment.ts';
import { sharedDataDir } from '../testing/sharedData.ts';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';
import { claimMessage } from './patientClaims.ts';

// The claim code comes from an import (src/ehr/), as for a patient imported without an address.
describe('the patient claim', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode();
  });
  afterAll(async () => {
    await t?.stop();
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
