/**
 * The patient is told at once when someone breaks the glass on their records (HIPAA's emergency
 * access procedure; the issue's "the patient is notified at once"). The notice is a FHIR
 * `Communication` in the patient's own compartment (sender: the institution, recipient and
 * subject: the patient, category `notification`), written through the vault like any record, so
 * the portal shows it and any patient app reads it with `Communication?patient=`. When the
 * institution configured a webhook (`MEDLEDGER_BREAK_GLASS_WEBHOOK`), a delivery row is written
 * in the same transaction and NoticeDelivery posts it, so the hospital can also send it by its
 * own channel (SMS, mail, letter). The reason is not in the notice: it is in the patient's
 * access report, with its proof.
 */
import type { Communication } from '@medplum/fhirtypes';
import type { EmergencyAccessOpened } from '../../access/authorizeAccess.ts';
import type { FhirService } from '../FhirService.ts';
import { OPEN_GUARD } from '../ResourceGuard.ts';
import { VaultRepository } from '../VaultRepository.ts';

export const NOTICE_CATEGORY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/communication-category';

export function emergencyAccessNotice(
  service: FhirService,
): (opened: EmergencyAccessOpened) => Promise<void> {
  const { ctx } = service;
  return async (opened) => {
    const institution = ctx.config.institutionName;
    const who = opened.practitionerName ?? opened.practitioner ?? 'a clinician';
    const until = new Date(opened.until * 1000).toUTCString();
    const communication: Communication = {
      resourceType: 'Communication',
      status: 'completed',
      category: [{ coding: [{ system: NOTICE_CATEGORY_SYSTEM, code: 'notification' }] }],
      priority: 'urgent',
      topic: {
        coding: [{ system: 'https://medledger.dev/fhir/CodeSystem/notice', code: 'break-glass' }],
        text: 'Emergency access to your records',
      },
      subject: { reference: `Patient/${opened.patientId}` },
      recipient: [{ reference: `Patient/${opened.patientId}` }],
      sender: { display: institution },
      sent: new Date().toISOString(),
      payload: [
        {
          contentString:
            `${who} opened emergency access (break-glass) to your records at ${institution}. ` +
            `It stays open until ${until}. The reason given is in your access report, ` +
            `with its proof on the consortium's chain${opened.txHash ? ` (transaction ${opened.txHash})` : ''}.`,
        },
      ],
    };
    const webhook = ctx.config.breakGlassWebhook;
    await new VaultRepository(service, OPEN_GUARD).createResource(communication, {
      ...(webhook === undefined
        ? {}
        : {
            alongside: async (tx, written) => {
              await tx.query('INSERT INTO notice_deliveries (communication_id) VALUES ($1)', [written.id]);
            },
          }),
    });
  };
}
