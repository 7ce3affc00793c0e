/**
 * The audit event of a change (or refused change) of a patient's chain identity (`$claim`,
 * `$change-key`): on behalf of the patient, naming them, so they find it in their access report.
 */
import type { AuditEventInput } from '../../audit/AuditSink.ts';
import type { FhirService } from '../FhirService.ts';

export function identityEvent(
  service: FhirService,
  parameters: { patientId: string; network?: string | undefined; address?: string | undefined },
  outcome: '0' | '4',
  outcomeDesc: string,
  resources: string[],
): AuditEventInput {
  return {
    type: { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' },
    subtype: 'operation',
    action: 'U',
    recorded: new Date().toISOString(),
    outcome,
    outcomeDesc,
    agent: {
      ...(parameters.address === undefined ? {} : { address: parameters.address }),
      onBehalfOf: `Patient/${parameters.patientId}`,
      ...(parameters.network === undefined ? {} : { network: parameters.network }),
    },
    source: { observer: service.ctx.identity.account.address.toLowerCase() },
    entity: { patient: `Patient/${parameters.patientId}`, resources },
    purposeOfUse: 'PATRQT',
  };
}
