/**
 * An {@link AuditEventInput} as the FHIR R4 AuditEvent that is encrypted, committed and served, shaped
 * after IHE BALP (https://profiles.ihe.net/ITI/BALP/): the requesting user and the client as agents,
 * the patient and the resources as entities, the consent decision as an extension. Only strings and
 * booleans, so RFC 8785 canonicalization is a plain sorted-key serialization a patient can redo.
 * @see https://hl7.org/fhir/R4/auditevent.html
 */
import type { AuditEventInput } from './AuditSink.ts';

export const MEDLEDGER_EXTENSION = 'https://medledger.dev/fhir/StructureDefinition';

export interface Coding {
  system?: string;
  code: string;
  display?: string;
}

export interface AuditEventResource {
  resourceType: 'AuditEvent';
  id: string;
  type: Coding;
  subtype: Coding[];
  action: string;
  recorded: string;
  outcome: string;
  outcomeDesc?: string;
  purposeOfEvent: { coding: Coding[] }[];
  agent: Record<string, unknown>[];
  source: { observer: { identifier: { system: string; value: string } } };
  entity: Record<string, unknown>[];
  extension?: Record<string, unknown>[];
  [key: string]: unknown;
}

const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';

export function toAuditEventResource(id: string, event: AuditEventInput): AuditEventResource {
  const agent: Record<string, unknown>[] = [];
  const { user, fhirUser, address, clientId, network, onBehalfOf } = event.agent;
  if (user !== undefined || fhirUser !== undefined || address !== undefined) {
    const who: Record<string, unknown> = fhirUser !== undefined ? { reference: fhirUser } : {};
    if (user !== undefined || address !== undefined)
      who.identifier =
        address !== undefined
          ? { system: 'urn:ietf:rfc:3986', value: `urn:eip155:${address.toLowerCase()}` }
          : { system: 'urn:medledger:user', value: user };
    const human: Record<string, unknown> = {
      type: {
        coding: [
          {
            system: 'http://dicom.nema.org/resources/ontology/DCM',
            code: '110153',
            display: 'Source Role ID',
          },
        ],
      },
      who,
      requestor: true,
    };
    if (user !== undefined) human.altId = user;
    if (network !== undefined) human.network = { address: network, type: '2' };
    if (onBehalfOf !== undefined)
      human.extension = [
        { url: `${MEDLEDGER_EXTENSION}/on-behalf-of`, valueReference: { reference: onBehalfOf } },
      ];
    agent.push(human);
  }
  if (clientId !== undefined) {
    const client: Record<string, unknown> = {
      type: {
        coding: [
          { system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110150', display: 'Application' },
        ],
      },
      who: { identifier: { system: 'urn:medledger:client', value: clientId } },
      requestor: agent.length === 0,
    };
    if (network !== undefined && agent.length === 0) client.network = { address: network, type: '2' };
    agent.push(client);
  }
  if (agent.length === 0) agent.push({ who: { display: 'unauthenticated' }, requestor: true });

  const entity: Record<string, unknown>[] = [];
  for (const patient of [
    ...(event.entity.patient === undefined ? [] : [event.entity.patient]),
    ...(event.entity.patients ?? []),
  ]) {
    entity.push({
      what: { reference: patient },
      type: { system: ENTITY_TYPE, code: '1', display: 'Person' },
      role: { system: OBJECT_ROLE, code: '1', display: 'Patient' },
    });
  }
  for (const reference of event.entity.resources) {
    entity.push({ what: { reference }, type: { system: ENTITY_TYPE, code: '2', display: 'System Object' } });
  }
  if (event.entity.query !== undefined) {
    entity.push({
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '24', display: 'Query' },
      query: Buffer.from(event.entity.query, 'utf8').toString('base64'),
    });
  }

  const resource: AuditEventResource = {
    resourceType: 'AuditEvent',
    id,
    type: { system: event.type.system, code: event.type.code },
    subtype: [{ system: 'http://hl7.org/fhir/restful-interaction', code: event.subtype }],
    action: event.action,
    recorded: event.recorded,
    outcome: event.outcome,
    purposeOfEvent: [
      {
        coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: event.purposeOfUse }],
      },
    ],
    agent,
    source: {
      observer: {
        identifier: {
          system: 'urn:ietf:rfc:3986',
          value: `urn:eip155:${event.source.observer.toLowerCase()}`,
        },
      },
    },
    entity,
  };
  if (event.outcomeDesc !== undefined) resource.outcomeDesc = event.outcomeDesc;
  const extension: Record<string, unknown>[] = [];
  if (event.consent) {
    const parts: Record<string, unknown>[] = [{ url: 'basis', valueCode: event.consent.basis }];
    if (event.consent.block !== undefined) parts.push({ url: 'block', valueString: event.consent.block });
    if (event.consent.sourceBlock !== undefined)
      parts.push({ url: 'sourceBlock', valueString: event.consent.sourceBlock });
    extension.push({ url: `${MEDLEDGER_EXTENSION}/consent-decision`, extension: parts });
  }
  if (event.breakGlassReason !== undefined)
    extension.push({ url: `${MEDLEDGER_EXTENSION}/break-glass-reason`, valueString: event.breakGlassReason });
  if (event.breakGlassSalt !== undefined)
    extension.push({
      url: `${MEDLEDGER_EXTENSION}/break-glass-reason-salt`,
      valueString: event.breakGlassSalt,
    });
  if (extension.length > 0) resource.extension = extension;
  return resource;
}

/** The values an event is findable by through the `agent` search parameter. */
export function agentSearchKeys(event: AuditEventInput): string[] {
  const { user, fhirUser, address, clientId } = event.agent;
  const keys = [user, fhirUser, address?.toLowerCase(), clientId].filter((k): k is string => k !== undefined);
  return [...new Set(keys)];
}
