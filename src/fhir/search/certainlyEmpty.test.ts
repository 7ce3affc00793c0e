import { parseSearchRequest } from '@medplum/core';
import type { Organization } from '@medplum/fhirtypes';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFhirService } from '../createFhirService.ts';
import type { FhirService } from '../FhirService.ts';
import { OPEN_GUARD } from '../ResourceGuard.ts';
import { startTestNode, type TestNode } from '../testing/startTestNode.ts';
import { VaultRepository } from '../VaultRepository.ts';

describe('VaultRepository.certainlyEmpty (bulk import: conditional creates that find nothing)', () => {
  let t: TestNode;
  let service: FhirService;
  beforeAll(async () => {
    t = await startTestNode();
    service = await createFhirService(t.node);
    const repo = new VaultRepository(service, OPEN_GUARD);
    await repo.createResource<Organization>({
      resourceType: 'Organization',
      name: 'Stored',
      identifier: [{ system: 'urn:org', value: 'stored' }],
    });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('reports exactly the searches that find nothing, its own transaction’s deferred writes included', async () => {
    const repo = new VaultRepository(service, OPEN_GUARD);
    repo.deferIndexWrites();
    const queries = [
      'Organization?identifier=urn:org|stored', // stored before
      'Organization?identifier=urn:org|missing',
      'Organization?identifier=urn:org|written', // written in this transaction, index not yet flushed
      'Location?identifier=urn:org|stored', // the same term under another type
      'Organization?identifier=urn:org|stored&name=Nobody', // one filter with no row: empty
      'Organization?identifier=urn:org|missing,urn:org|stored', // either value: not empty
      'Organization?name:contains=tor', // not decided by the index ("Stored" matches): never claimed empty
    ];
    const { empty, found } = await repo.withTransaction(async () => {
      await repo.createResource<Organization>({
        resourceType: 'Organization',
        name: 'Written',
        identifier: [{ system: 'urn:org', value: 'written' }],
      });
      const empty = await repo.certainlyEmpty(queries);
      const found: number[] = [];
      for (const query of queries) found.push((await repo.searchResources(parseSearchRequest(query))).length);
      return { empty, found };
    });
    expect([...empty].sort()).toEqual([1, 3, 4]);
    // Never claimed empty when the search itself finds something.
    for (const i of empty) expect(found[i]).toBe(0);
    expect(found).toEqual([1, 0, 1, 0, 0, 1, 1]);
  });
});
