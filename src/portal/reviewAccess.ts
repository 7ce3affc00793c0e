/**
 * A privacy officer's review of one specific access (`GET /portal/api/officer/access-review/{id}`,
 * `id` an AuditEvent's): the only way an officer sees clinical records. The answer holds exactly
 * the record versions that access served (the event's entity references, each read and verified
 * through the vault; a `Type/id` reference as the version current when the event was recorded is
 * not kept, so it is read as it is now and said so), never more; an event that names no patient is
 * refused. The route's access decision is audited naming the patients of the reviewed event, so
 * each finds the review in their access report.
 */
import type { AuditContext } from '../audit/AuditContext.ts';
import { readVerifiedAuditEvents } from '../audit/readVerifiedAuditEvents.ts';
import type { FhirService } from '../fhir/FhirService.ts';
import type { AccessReview } from './PortalApi.ts';
import { PortalError } from './PortalError.ts';

const VERSION = /^([A-Z][A-Za-z]{1,63})\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/(\d{1,9}))?$/;

export interface ReviewedEvent {
  event: Record<string, unknown>;
  patients: string[];
  references: string[];
}

/** The reviewed event, verified, with the patients and record references it names. */
export async function eventToReview(audit: AuditContext, id: string): Promise<ReviewedEvent> {
  if (!/^\d{1,18}$/.test(id))
    throw new PortalError('ERR_PORTAL_INVALID', 'the id of an AuditEvent is a number');
  const [row] = await readVerifiedAuditEvents(audit, 'e.seq = $1', '', [id]);
  if (!row) throw new PortalError('ERR_PORTAL_NOT_FOUND', `no AuditEvent/${id}`);
  const entities = (row.resource.entity ?? []) as {
    what?: { reference?: string };
    role?: { code?: string };
  }[];
  const patients: string[] = [];
  const references: string[] = [];
  for (const e of entities) {
    const reference = e.what?.reference;
    if (typeof reference !== 'string') continue;
    if (e.role?.code === '1' && reference.startsWith('Patient/'))
      patients.push(reference.slice('Patient/'.length));
    else if (VERSION.test(reference)) references.push(reference);
  }
  if (patients.length === 0)
    throw new PortalError(
      'ERR_PORTAL_CONFLICT',
      'this access names no patient: there are no records to review',
    );
  return { event: row.resource as unknown as Record<string, unknown>, patients, references };
}

export async function reviewAccess(service: FhirService, reviewed: ReviewedEvent): Promise<AccessReview> {
  const reader = service.ctx.vault.reader();
  const records: AccessReview['records'] = [];
  for (const reference of reviewed.references) {
    const [, type = '', id = '', version] = VERSION.exec(reference) ?? [];
    try {
      const found =
        version === undefined ? await reader.read(type, id) : await reader.vread(type, id, Number(version));
      records.push({
        reference,
        status: version === undefined ? 'current version (the event names no version)' : 'the version served',
        resource: found.resource,
      });
    } catch (error) {
      records.push({
        reference,
        status: `not readable now: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  }
  return { event: reviewed.event, records };
}
