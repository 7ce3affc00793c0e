/**
 * The provenance of records received over the exchange: one FHIR Provenance per custodian batch,
 * naming the custodian (its member address and registered name), the anchored batch (chain,
 * Anchors contract, sequence, root and anchoring transaction) and the consent the records came
 * under (the chain-derived Consent id, as `GET /fhir/Consent/{id}` serves it).
 * @see https://hl7.org/fhir/R4/provenance.html
 */
import type { Provenance, Reference } from '@medplum/fhirtypes';
import { consentIdOf } from '../fhir/consent/consentId.ts';
import type { AnchoredBatch } from './verifyDisclosure.ts';

export const MEMBER_SYSTEM = 'urn:medledger:member';
export const ANCHOR_SYSTEM = 'urn:medledger:anchor';

export interface ProvenanceParameters {
  custodian: { address: string; name: string; endpoint: string };
  /** This node (the receiver). */
  receiver: string;
  chainId: number;
  anchors: string;
  patient: string;
  /** The grant's custodian field (this custodian, or the zero address). */
  grantCustodian: string;
  batch: AnchoredBatch;
  /** Absolute references of the received versions. */
  targets: string[];
  recorded: string;
  /** The purpose of use the records were requested for. */
  purpose: string;
}

export function provenanceOf(p: ProvenanceParameters): Provenance {
  const consentId = consentIdOf({ patient: p.patient, grantee: p.receiver, custodian: p.grantCustodian });
  const anchor = `${p.chainId}:${p.anchors.toLowerCase()}:${p.custodian.address}:0:${p.batch.sequence}`;
  const details = [
    `root ${p.batch.root}`,
    p.batch.txHash ? `anchored in ${p.batch.txHash}` : undefined,
    p.batch.blockNumber ? `block ${p.batch.blockNumber}` : undefined,
  ].filter(Boolean);
  return {
    resourceType: 'Provenance',
    id: `exchange-${p.custodian.address.slice(2, 10)}-${p.batch.sequence}-${Date.parse(p.recorded).toString(36)}`,
    target: p.targets.map((reference): Reference => ({ reference })),
    recorded: p.recorded,
    policy: [`urn:medledger:consent:${consentId}`],
    reason: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: p.purpose }] }],
    activity: {
      coding: [
        {
          system: 'http://terminology.hl7.org/CodeSystem/v3-DataOperation',
          code: 'CREATE',
          display: 'received over the medledger exchange',
        },
      ],
    },
    agent: [
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'custodian',
            },
          ],
        },
        who: { identifier: { system: MEMBER_SYSTEM, value: p.custodian.address }, display: p.custodian.name },
      },
      {
        type: {
          coding: [
            {
              system: 'http://terminology.hl7.org/CodeSystem/provenance-participant-type',
              code: 'performer',
            },
          ],
        },
        who: {
          identifier: { system: MEMBER_SYSTEM, value: p.receiver },
          display: 'receiving node (verified against the chain)',
        },
      },
    ],
    entity: [
      {
        role: 'source',
        what: {
          identifier: { system: ANCHOR_SYSTEM, value: anchor },
          display: `records batch ${p.batch.sequence} of ${p.custodian.address}: ${details.join(', ')}`,
        },
      },
      {
        role: 'source',
        what: { reference: `Consent/${consentId}`, display: 'the patient-signed grant on chain' },
      },
    ],
  };
}
