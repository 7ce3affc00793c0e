/** The routes medledger adds to Medplum's FhirRouter (so they work in batch Bundles too). */
import type { FhirRouteHandler, FhirRouter } from '@medplum/fhir-router';
import type { VaultRepository } from '../VaultRepository.ts';
import { compartmentSearch } from './compartmentSearch.ts';
import { everything } from './everything.ts';
import { historyAcross } from './historyAcross.ts';

type VaultHandler = (
  req: Parameters<FhirRouteHandler>[0],
  repo: VaultRepository,
) => ReturnType<FhirRouteHandler>;
const onVault =
  (handler: VaultHandler): FhirRouteHandler =>
  (req, repo) =>
    handler(req, repo as VaultRepository);

export function addMedledgerRoutes(router: FhirRouter): void {
  router.add('GET', '_history', onVault(historyAcross), 'history-system');
  router.add('GET', ':resourceType/_history', onVault(historyAcross), 'history-type');
  router.add('GET', 'Patient/:id/$everything', onVault(everything), 'operation');
  router.add('GET', 'Patient/:id/:compartmentType', onVault(compartmentSearch), 'search-type');
}
