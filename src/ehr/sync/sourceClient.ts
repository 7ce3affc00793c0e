/**
 * Reads changes from a source FHIR server: its resource types from the CapabilityStatement, and
 * per type the resources whose `_lastUpdated` is at or after a mark, sorted by `_lastUpdated`,
 * page by page through the searchset's `next` links (whatever paging scheme the server uses).
 * @see https://hl7.org/fhir/R4/search.html#lastUpdated
 * @see https://hl7.org/fhir/R4/http.html#paging
 */
import type { Bundle, CapabilityStatement, Resource } from '@medplum/fhirtypes';
import { SyncError } from './SyncError.ts';
import type { Authorize } from './sourceAuthorization.ts';

export interface SourceClient {
  /** The FHIR base URL, without a trailing slash. */
  baseUrl: string;
  authorize: Authorize;
  /** `_count` asked for per page. Default 200. */
  pageSize?: number;
}

export async function getSourceJson<T>(client: SourceClient, url: string): Promise<T> {
  const authorization = await client.authorize();
  let response: Response;
  try {
    response = await fetch(url, {
      headers: { accept: 'application/fhir+json', ...(authorization ? { authorization } : {}) },
    });
  } catch (error) {
    throw new SyncError('ERR_SYNC_SOURCE', `${url} unreachable: ${(error as Error).message}`, error);
  }
  if (!response.ok) {
    const text = (await response.text()).slice(0, 300);
    throw new SyncError('ERR_SYNC_SOURCE', `${url} answered ${response.status}: ${text}`);
  }
  return (await response.json()) as T;
}

/** Types the source can search (`search-type` in its CapabilityStatement). */
export async function sourceResourceTypes(client: SourceClient): Promise<string[]> {
  const statement = await getSourceJson<CapabilityStatement>(client, `${client.baseUrl}/metadata`);
  const types = (statement.rest ?? [])
    .flatMap((rest) => rest.resource ?? [])
    .filter((r) => (r.interaction ?? []).some((i) => i.code === 'search-type'))
    .map((r) => r.type as string);
  if (types.length === 0)
    throw new SyncError('ERR_SYNC_SOURCE', 'the source declares no searchable resource types; pass --types');
  return [...new Set(types)];
}

/**
 * The searchset bundles of `url` and its `next` links, in order (whatever paging scheme the
 * server uses). A link seen before ends the walk rather than loop; with `loopIsError` it is a
 * SyncError instead (a walk that must be known complete).
 */
async function* searchPages(client: SourceClient, url: string, loopIsError = false): AsyncGenerator<Bundle> {
  const seen = new Set<string>();
  for (let next: string | undefined = url; next; ) {
    if (seen.has(next)) {
      if (loopIsError) throw new SyncError('ERR_SYNC_SOURCE', `${next}: the next links loop`);
      return;
    }
    seen.add(next);
    const bundle: Bundle = await getSourceJson<Bundle>(client, next);
    if (bundle.resourceType !== 'Bundle')
      throw new SyncError('ERR_SYNC_SOURCE', `${next} did not answer with a Bundle`);
    yield bundle;
    next = bundle.link?.find((l) => l.relation === 'next')?.url;
  }
}

/** The matches (not `_include`d resources) of `resourceType` in a searchset page. */
function matchesOf(bundle: Bundle, resourceType: string): Resource[] {
  return (bundle.entry ?? [])
    .filter((e) => e.search?.mode !== 'include' && e.resource?.resourceType === resourceType)
    .map((e) => e.resource as Resource);
}

/** Pages of resources of one type changed at or after `since` (all of them without it). */
export async function* changedResources(
  client: SourceClient,
  resourceType: string,
  since: string | undefined,
): AsyncGenerator<Resource[]> {
  const query = new URLSearchParams({ _sort: '_lastUpdated', _count: String(client.pageSize ?? 200) });
  if (since) query.set('_lastUpdated', `ge${since}`);
  for await (const bundle of searchPages(client, `${client.baseUrl}/${resourceType}?${query}`)) {
    const resources = matchesOf(bundle, resourceType);
    if (resources.length > 0) yield resources;
  }
}

/**
 * Every id of `resourceType` the source holds now (`_elements=id`, all pages), or undefined when
 * the listing cannot be trusted to be complete: a page failed, or the searchset's `total` (where
 * the server gives one) differs from the ids collected. Deletions are only inferred from a
 * complete listing: a partial one would delete what the source still has.
 */
export async function sourceIds(
  client: SourceClient,
  resourceType: string,
): Promise<Set<string> | undefined> {
  const query = new URLSearchParams({ _elements: 'id', _count: String(client.pageSize ?? 200) });
  const ids = new Set<string>();
  let total: number | undefined;
  try {
    for await (const bundle of searchPages(client, `${client.baseUrl}/${resourceType}?${query}`, true)) {
      total ??= bundle.total;
      for (const resource of matchesOf(bundle, resourceType)) if (resource.id) ids.add(resource.id);
    }
  } catch (error) {
    if (error instanceof SyncError) return undefined;
    throw error;
  }
  if (total !== undefined && total !== ids.size) return undefined;
  return ids;
}
