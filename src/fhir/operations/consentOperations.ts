/**
 * The consent operations on a Patient, called once access is decided (see
 * consent/registerConsentRoutes.ts):
 *
 * - `$grant` / `$revoke` (POST, Parameters): the EIP-712 message fields and the patient's
 *   65-byte `signature`. Answer: 202 Accepted with the Consent and `Location: Consent/{id}`
 *   (status `proposed` for a grant until mined and indexed); with `?wait=true`, 200 with the
 *   Consent once the chain has it final (`active`, or `inactive` after a revocation), or, when
 *   the chain takes longer than `MEDLEDGER_CONSENT_WAIT_MS`, still 202 with the link to follow
 *   (`Location`, `Retry-After`).
 * - `$consent-typed-data` (GET): the message with the current nonce and a deadline, and the
 *   exact typed data to sign, for the patient's wallet. The node never holds patient keys.
 */
import type { Address } from 'viem';
import { MedledgerError } from '../../errors/MedledgerError.ts';
import { consentIdOf } from '../consent/consentId.ts';
import {
  currentNonce,
  grantMessageFrom,
  revokeMessageFrom,
  typedDataParameters,
} from '../consent/consentMessages.ts';
import {
  addressParam,
  invalid,
  parameterValues,
  queryValues,
  signatureParam,
} from '../consent/consentParameters.ts';
import { render } from '../consent/consentResources.ts';
import { readChainConsent } from '../consent/readChainConsents.ts';
import {
  relaySignedConsent,
  type SignedConsentChange,
  waitForRelayedConsent,
} from '../consent/relaySignedConsent.ts';
import type { AllowedPatientRequest, Answer } from '../patientRoute.ts';

export function grantConsentOperation(r: AllowedPatientRequest): Promise<Answer> {
  const values = parameterValues(r.request.body);
  const message = grantMessageFrom(values, patientAddressOf(r), { custodian: nodeAddress(r) });
  return relayAndAnswer(r, { kind: 'grant', message, signature: signatureParam(values) });
}

export function revokeConsentOperation(r: AllowedPatientRequest): Promise<Answer> {
  const values = parameterValues(r.request.body);
  const message = revokeMessageFrom(values, patientAddressOf(r), { custodian: nodeAddress(r) });
  return relayAndAnswer(r, { kind: 'revoke', message, signature: signatureParam(values) });
}

export async function typedDataOperation(r: AllowedPatientRequest): Promise<Answer> {
  const values = queryValues(r.query);
  const action = values.get('action')?.[0] ?? 'grant';
  if (action !== 'grant' && action !== 'revoke') throw invalid('action', 'action must be grant or revoke');
  const patient = patientAddressOf(r);
  const key = {
    patient,
    grantee: addressParam(values, 'grantee'),
    custodian: addressParam(values, 'custodian', nodeAddress(r)),
  };
  const defaults = { custodian: nodeAddress(r), nonce: await currentNonce(r.service.ctx, key) };
  const { chainId, consent } = r.service.ctx.chain.addresses;
  const body =
    action === 'grant'
      ? typedDataParameters(
          { chainId, consent },
          { kind: 'grant', message: grantMessageFrom(values, patient, defaults) },
        )
      : typedDataParameters(
          { chainId, consent },
          { kind: 'revoke', message: revokeMessageFrom(values, patient, defaults) },
        );
  return { status: 200, body };
}

async function relayAndAnswer(r: AllowedPatientRequest, signed: SignedConsentChange): Promise<Answer> {
  const { ctx } = r.service;
  const relayed = await relaySignedConsent(ctx, signed);
  const wait = r.query.wait === 'true';
  const settled =
    wait && (await waitForRelayedConsent(ctx, relayed.outboxId, ctx.config.chainTimings.consentWaitMs));
  const id = consentIdOf(signed.message);
  const state = await readChainConsent(ctx.db, id, ctx.indexer.status.block);
  if (!state)
    throw new MedledgerError('ERR_CONSENT_LOST', `consent ${id} is neither on chain nor in the outbox`);
  const location = `${r.service.baseUrl}/Consent/${id}`;
  return {
    status: settled ? 200 : 202,
    body: await render(r.service, state, r.patientId),
    headers: { location, 'content-location': location, ...(settled ? {} : { 'retry-after': '2' }) },
  };
}

/** The Patient's chain address; 409 when it has none (nothing can be signed for it). */
export function patientAddressOf(r: AllowedPatientRequest): Address {
  if (r.patientAddress === undefined)
    throw new MedledgerError(
      'ERR_CONSENT_NO_PATIENT_ADDRESS',
      'the Patient has no chain identity, so no consent or delegation can be signed for it',
    );
  return r.patientAddress as Address;
}

const nodeAddress = (r: AllowedPatientRequest) =>
  r.service.ctx.identity.account.address.toLowerCase() as Address;
