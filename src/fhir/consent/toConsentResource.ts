/**
 * Renders a chain consent as a FHIR R4 Consent resource: scope patient-privacy, LOINC
 * 59284-0, an opt-in provision for the grantee (information recipient) limited to the
 * granted resource types (`class`, none = all), purposes of use (HL7 v3 ActReason) and
 * period, the custodian as an actor when the grant names one, and the on-chain facts in
 * an extension. Status: active; inactive once revoked or expired; proposed while relayed
 * but not yet mined and indexed.
 * @see https://hl7.org/fhir/R4/consent.html
 */
import type { Consent, ConsentProvisionActor, Extension } from '@medplum/fhirtypes';
import { zeroAddress } from 'viem';
import { ALL_RESOURCE_TYPES, decodePurposes, decodeResourceTypes } from '../../chain/consentCodes.ts';
import { ADDRESS_SYSTEM } from '../patientCompartment.ts';
import type { ChainConsentState } from './readChainConsents.ts';

/** Extension carrying where the consent stands on chain. */
export const CONSENT_CHAIN_EXTENSION = 'https://medledger.dev/fhir/StructureDefinition/consent-chain';

const V3_ACT_REASON = 'http://terminology.hl7.org/CodeSystem/v3-ActReason';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';

export interface ConsentRenderContext {
  /** FHIR id of the patient the consent belongs to. */
  patientId: string;
  /** Unix seconds the status is decided at (defaults to now). */
  now?: number;
  /** ISO time of the block the consent was last changed in, if known. */
  changedAt?: string;
  chainId?: number;
}

export function toConsentResource(state: ChainConsentState, context: ConsentRenderContext): Consent {
  const now = context.now ?? Math.floor(Date.now() / 1000);
  const { grant, pending } = state;
  const proposed = pending?.kind === 'grant' ? pending.grant : undefined;
  const scope = proposed ?? grant;
  const status: Consent['status'] = proposed
    ? 'proposed'
    : grant && grant.expiry > now
      ? 'active'
      : 'inactive';
  const chainState = proposed
    ? 'pending'
    : !grant || grant.expiry === 0
      ? 'revoked'
      : grant.expiry <= now
        ? 'expired'
        : 'active';
  const patientRef = { reference: `Patient/${context.patientId}` };
  const signedByPatient = grant?.signer === state.key.patient;
  return {
    resourceType: 'Consent',
    id: state.id,
    ...(grant && !proposed ? { meta: { versionId: String(grant.nonce + 1) } } : {}),
    extension: [chainExtension(state, chainState, context.chainId)],
    status,
    scope: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/consentscope',
          code: 'patient-privacy',
          display: 'Privacy Consent',
        },
      ],
    },
    category: [{ coding: [{ system: 'http://loinc.org', code: '59284-0', display: 'Patient Consent' }] }],
    patient: patientRef,
    ...(proposed ? { dateTime: new Date(now * 1000).toISOString() } : {}),
    ...(!proposed && context.changedAt ? { dateTime: context.changedAt } : {}),
    ...(grant && !proposed
      ? {
          performer: [
            signedByPatient
              ? patientRef
              : { identifier: { system: ADDRESS_SYSTEM, value: grant.signer }, display: 'delegate' },
          ],
        }
      : {}),
    policyRule: {
      coding: [
        { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'OPTIN', display: 'opt-in' },
      ],
    },
    provision: {
      type: 'permit',
      ...(scope && scope.expiry > 0
        ? {
            period: {
              start: new Date(scope.notBefore * 1000).toISOString(),
              end: new Date(scope.expiry * 1000).toISOString(),
            },
          }
        : {}),
      actor: actorsOf(state),
      ...(scope
        ? {
            purpose: decodePurposes(scope.purposes).map((code) => ({ system: V3_ACT_REASON, code })),
            ...(scope.resourceTypes === ALL_RESOURCE_TYPES
              ? {}
              : {
                  class: decodeResourceTypes(scope.resourceTypes).map((code) => ({
                    system: 'http://hl7.org/fhir/resource-types',
                    code,
                  })),
                }),
          }
        : {}),
    },
  };
}

function actorsOf(state: ChainConsentState): ConsentProvisionActor[] {
  const actors: ConsentProvisionActor[] = [
    {
      role: { coding: [{ system: PARTICIPATION, code: 'IRCP', display: 'information recipient' }] },
      reference: { identifier: { system: ADDRESS_SYSTEM, value: state.key.grantee } },
    },
  ];
  if (state.key.custodian !== zeroAddress) {
    actors.push({
      role: { coding: [{ system: PARTICIPATION, code: 'CST', display: 'custodian' }] },
      reference: { identifier: { system: ADDRESS_SYSTEM, value: state.key.custodian } },
    });
  }
  return actors;
}

function chainExtension(state: ChainConsentState, stateCode: string, chainId: number | undefined): Extension {
  const parts: Extension[] = [{ url: 'state', valueCode: stateCode }];
  if (chainId !== undefined) parts.push({ url: 'chainId', valueUnsignedInt: chainId });
  const { grant, pending } = state;
  if (grant) {
    parts.push(
      { url: 'blockNumber', valueString: grant.block.toString() },
      { url: 'transaction', valueString: grant.txHash },
      { url: 'nonce', valueUnsignedInt: grant.nonce },
      { url: 'signer', valueString: grant.signer },
      { url: 'signerRole', valueCode: grant.signer === state.key.patient ? 'patient' : 'delegate' },
    );
  }
  if (pending) {
    parts.push({
      url: 'relay',
      extension: [
        { url: 'kind', valueCode: pending.kind },
        { url: 'outboxId', valueString: pending.outboxId.toString() },
        { url: 'status', valueCode: pending.status },
      ],
    });
  }
  return { url: CONSENT_CHAIN_EXTENSION, extension: parts };
}
