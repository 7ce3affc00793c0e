/**
 * Delegates (a guardian, a proxy) of a patient, called once access is decided:
 *
 * - `GET Patient/{id}/$delegate-typed-data?delegate=0x..&until=` : the `Delegate` message with
 *   the pair's current nonce and a deadline, and the EIP-712 typed data for the patient's wallet
 *   (`until` unix seconds; 0 ends the appointment).
 * - `POST Patient/{id}/$delegate` (Parameters: `delegate`, `until`, `nonce`, `deadline`,
 *   `signature`): relays the patient-signed appointment to `Consent.setDelegate`. 202 Accepted
 *   once in the outbox; with `?wait=true`, 200 once mined and indexed.
 *
 * An appointed delegate signs Grants and Revokes for the patient with their own key, and relays
 * them through `$grant` / `$revoke` like the patient; they read the patient's consents, not the
 * patient's records.
 */
import type { Parameters } from '@medplum/fhirtypes';
import type { DelegateMessage } from '../../chain/consent/consentTypedData.ts';
import { consentAbi } from '../../chain/generated/contracts.ts';
import { eip712TypedData } from '../consent/consentMessages.ts';
import {
  addressParam,
  boundedParam,
  integerParam,
  parameterValues,
  queryValues,
  signatureParam,
} from '../consent/consentParameters.ts';
import { relaySignedDelegate } from '../consent/relayDelegate.ts';
import { waitForRelayedConsent } from '../consent/relaySignedConsent.ts';
import type { AllowedPatientRequest, Answer } from '../patientRoute.ts';
import { patientAddressOf } from './consentOperations.ts';

const HOUR = 3600;

export async function delegateTypedDataOperation(r: AllowedPatientRequest): Promise<Answer> {
  const values = queryValues(r.query);
  const patient = patientAddressOf(r);
  const delegate = addressParam(values, 'delegate');
  const nonce = Number(
    await r.service.ctx.chain.publicClient.readContract({
      address: r.service.ctx.chain.addresses.consent,
      abi: consentAbi,
      functionName: 'delegateNonceOf',
      args: [patient, delegate],
    }),
  );
  const now = BigInt(Math.floor(Date.now() / 1000));
  const message: DelegateMessage = {
    patient,
    delegate,
    until: boundedParam(values, 'until', 40),
    nonce,
    deadline: integerParam(values, 'deadline', now + BigInt(HOUR)),
  };
  const typedData = eip712TypedData(r.service.ctx.chain.addresses, 'Delegate', message);
  const body: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'delegate', valueString: message.delegate },
      { name: 'until', valueString: String(message.until) },
      { name: 'nonce', valueString: String(message.nonce) },
      { name: 'deadline', valueString: message.deadline.toString() },
      { name: 'typedData', valueString: JSON.stringify(typedData) },
    ],
  };
  return { status: 200, body };
}

export async function delegateOperation(r: AllowedPatientRequest): Promise<Answer> {
  const values = parameterValues(r.request.body);
  const message: DelegateMessage = {
    patient: patientAddressOf(r),
    delegate: addressParam(values, 'delegate'),
    until: boundedParam(values, 'until', 40),
    nonce: boundedParam(values, 'nonce', 32),
    deadline: integerParam(values, 'deadline'),
  };
  const { ctx } = r.service;
  const relayed = await relaySignedDelegate(ctx, { message, signature: signatureParam(values) });
  const wait = r.query.wait === 'true';
  const settled =
    wait && (await waitForRelayedConsent(ctx, relayed.outboxId, ctx.config.chainTimings.consentWaitMs));
  const body: Parameters = {
    resourceType: 'Parameters',
    parameter: [
      { name: 'delegate', valueString: message.delegate.toLowerCase() },
      { name: 'until', valueString: String(message.until) },
      { name: 'status', valueCode: settled ? 'active' : 'proposed' },
      { name: 'outbox', valueString: relayed.outboxId.toString() },
    ],
  };
  return { status: settled ? 200 : 202, body, ...(settled ? {} : { headers: { 'retry-after': '2' } }) };
}
