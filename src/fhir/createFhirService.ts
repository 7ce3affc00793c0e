/**
 * The FHIR service as every caller uses it: the core (FhirService: keys, access, the patient
 * address cache) with medledger's own routes on its router (compartment search, `$everything`,
 * history across types) and the break-glass notice written when an emergency access opens.
 * Assembled here, above both, so that neither the core nor the operations import each other.
 */
import type { NodeContext } from '../context/NodeContext.ts';
import { FhirService } from './FhirService.ts';
import { emergencyAccessNotice } from './notify/emergencyAccessNotice.ts';
import { addMedledgerRoutes } from './operations/addMedledgerRoutes.ts';

export async function createFhirService(ctx: NodeContext): Promise<FhirService> {
  const service = await FhirService.create(ctx);
  addMedledgerRoutes(service.router);
  const notice = emergencyAccessNotice(service);
  service.access.onEmergencyAccessOpened = async (opened) => {
    await notice(opened);
    service.noticeWritten?.();
  };
  return service;
}
