/**
 * How `$everything` reaches records other custodians hold: an interface the FHIR layer owns and
 * the exchange implements (exchange/everythingFromCustodians.ts), plugged in by the HTTP edge
 * (server/createServer.ts). Without it, `$everything` answers the local records only.
 */
import type { FhirRequest } from '@medplum/fhir-router';
import type { BundleEntry, Resource } from '@medplum/fhirtypes';

export type RemoteRecords = (
  patient: Resource,
  req: Pick<FhirRequest, 'query' | 'headers'>,
) => Promise<BundleEntry[]>;
