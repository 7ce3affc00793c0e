/**
 * A patient's wallet over the FHIR API: asks `$consent-typed-data` for the message, signs it with
 * the patient's key, and posts it to `$grant` or `$revoke` (optionally `?wait=true`).
 */
import type { TypedDataDefinition } from 'viem';
import type { PrivateKeyAccount } from 'viem/accounts';
import { expect } from 'vitest';

export interface ConsentChange {
  /** `http://host:port/fhir` */
  fhirUrl: string;
  patientId: string;
  signer: PrivateKeyAccount;
  grantee: string;
  asPatient: string;
  action: 'grant' | 'revoke';
  wait?: boolean;
  /** Grant only, default `Observation,Patient`. */
  resourceTypes?: string;
}

export async function postConsentChange(change: ConsentChange): Promise<Response> {
  const query =
    change.action === 'grant'
      ? `grantee=${change.grantee}&resourceType=${change.resourceTypes ?? 'Observation,Patient'}&purpose=TREAT`
      : `action=revoke&grantee=${change.grantee}`;
  const typedResponse = await fetch(
    `${change.fhirUrl}/Patient/${change.patientId}/$consent-typed-data?${query}`,
    { headers: { authorization: change.asPatient } },
  );
  expect(typedResponse.status).toBe(200);
  const parameters = (await typedResponse.json()) as {
    parameter: Array<{ name: string; valueString?: string }>;
  };
  const typed = JSON.parse(
    parameters.parameter.find((p) => p.name === 'typedData')?.valueString as string,
  ) as TypedDataDefinition & { message: Record<string, unknown> };
  const message = { ...typed.message };
  for (const big of ['resourceTypes', 'deadline'])
    if (big in message) message[big] = BigInt(message[big] as string);
  const signature = await change.signer.signTypedData({ ...typed, message } as TypedDataDefinition);
  return fetch(
    `${change.fhirUrl}/Patient/${change.patientId}/$${change.action}${change.wait ? '?wait=true' : ''}`,
    {
      method: 'POST',
      headers: { authorization: change.asPatient, 'content-type': 'application/fhir+json' },
      body: JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          ...parameters.parameter.filter((p) => p.name !== 'typedData'),
          { name: 'signature', valueString: signature },
        ],
      }),
    },
  );
}
