/**
 * Rewrites a chunk of import entries before the router sees them:
 * - an Organization or Practitioner whose identifier (system|value) is already stored, or
 *   appears earlier in the chunk, is not created again; references to its fullUrl are rewritten
 *   to the existing resource (so loading the same reference data twice creates nothing new);
 * - references to entries stored by earlier chunks or runs (by fullUrl) are rewritten;
 * - conditional references (`Organization?identifier=...`) are resolved once per import and
 *   cached (VaultRepository would otherwise search for each of them);
 * - a Patient without a chain address gets a generated one and a claim code.
 */
import { parseSearchRequest } from '@medplum/core';
import type { BundleEntry, Identifier, Resource } from '@medplum/fhirtypes';
import { generatedPatientAddress, newClaimCode } from '../fhir/identity/patientClaims.ts';
import { ADDRESS_SYSTEM } from '../fhir/patientCompartment.ts';
import type { VaultRepository } from '../fhir/VaultRepository.ts';

/** Types deduplicated by identifier across files. */
export const DEDUPLICATED_TYPES: ReadonlySet<string> = new Set(['Organization', 'Practitioner']);

export interface ImportCaches {
  /** `Type|system|value` → `Type/id`. */
  identities: Map<string, string>;
  /** Conditional reference → `Type/id`. */
  conditionals: Map<string, string>;
}

export interface PreparedResult {
  status: 'unchanged';
  resourceType: string;
  reference?: string;
}

export interface PreparedEntries {
  /** Entries settled without the router (duplicates): undefined for those to submit. */
  results: (PreparedResult | undefined)[];
  /** [duplicate, first] pairs of entries with the same identity in this chunk. */
  aliases: [number, number][];
  claims: Map<number, { generatedAddress: string; claimCode: string }>;
  /**
   * Once the chunk is stored: the identities its Organizations and Practitioners map to, and the
   * conditional references and creates it resolved (`Type?query` → `Type/id`).
   */
  learned(results: readonly { reference?: string; status: string }[]): {
    identities: Map<string, string>;
    conditionals: Map<string, string>;
  };
}

const CONDITIONAL = /^([A-Za-z]+)\?(.+)$/;

export async function prepareImportEntries(
  repo: VaultRepository,
  entries: BundleEntry[],
  fullUrls: ReadonlyMap<string, string>,
  caches: ImportCaches,
): Promise<PreparedEntries> {
  const results: (PreparedResult | undefined)[] = new Array(entries.length);
  const aliases: [number, number][] = [];
  const replacements = new Map<string, string>();
  const firstWith = new Map<string, number>();
  const creates = new Map<number, string>();
  const absent = await absentQueries(repo, entries, caches);
  for (const [i, entry] of entries.entries()) {
    const resource = entry.resource;
    if (entry.request?.method === 'POST' && entry.request.ifNoneExist) {
      // Conditional create, decided here once for the chunk (and remembered for the import):
      // the router then sees a plain create, and its writes can be indexed in one statement.
      const query = `${entry.request.url}?${entry.request.ifNoneExist}`;
      const settled = await settleConditionalCreate(repo, query, caches, absent);
      if (settled) {
        results[i] = { status: 'unchanged', resourceType: resourceTypeOf(entry), reference: settled };
        if (entry.fullUrl) replacements.set(entry.fullUrl, settled);
        continue;
      }
      const first = firstWith.get(query);
      if (first !== undefined) {
        results[i] = { status: 'unchanged', resourceType: resourceTypeOf(entry) };
        aliases.push([i, first]);
        const target = entries[first]?.fullUrl;
        if (entry.fullUrl && target) replacements.set(entry.fullUrl, target);
        continue;
      }
      firstWith.set(query, i);
      creates.set(i, query);
      delete entry.request.ifNoneExist;
    }
    if (!resource || !DEDUPLICATED_TYPES.has(resource.resourceType)) continue;
    if (entry.request?.method !== 'POST') continue;
    const keys = identityKeys(resource);
    if (keys.length === 0) continue;
    const reference = await findExisting(repo, resource.resourceType, keys, caches, absent);
    if (reference) {
      results[i] = { status: 'unchanged', resourceType: resource.resourceType, reference };
      if (entry.fullUrl) replacements.set(entry.fullUrl, reference);
      continue;
    }
    const first = keys.map((k) => firstWith.get(k)).find((j) => j !== undefined);
    if (first !== undefined) {
      results[i] = { status: 'unchanged', resourceType: resource.resourceType };
      aliases.push([i, first]);
      const target = entries[first]?.fullUrl;
      if (entry.fullUrl && target) replacements.set(entry.fullUrl, target);
      continue;
    }
    for (const key of keys) firstWith.set(key, i);
  }

  const conditionals = new Map<string, string>();
  const resolve = async (reference: string): Promise<string> => {
    const replaced = replacements.get(reference) ?? fullUrls.get(reference);
    if (replaced) return replaced;
    if (!CONDITIONAL.test(reference)) return reference;
    const known = caches.conditionals.get(reference) ?? conditionals.get(reference);
    if (known) return known;
    let matches: Resource[];
    try {
      matches = await repo.searchResources({ ...parseSearchRequest(reference), count: 2 });
    } catch {
      return reference; // VaultRepository reports it with its path
    }
    if (matches.length !== 1 || !matches[0]?.id) return reference;
    const resolved = `${matches[0].resourceType}/${matches[0].id}`;
    conditionals.set(reference, resolved);
    return resolved;
  };

  const claims = new Map<number, { generatedAddress: string; claimCode: string }>();
  for (const [i, entry] of entries.entries()) {
    if (results[i] || !entry.resource) continue;
    await rewriteReferences(entry.resource, resolve);
    if (entry.resource.resourceType === 'Patient') {
      const claim = await addressPatient(repo, entry);
      if (claim) claims.set(i, claim);
    }
  }

  return {
    results,
    aliases,
    claims,
    learned(done) {
      const identities = new Map<string, string>();
      const learnedConditionals = new Map(conditionals);
      for (const [i, entry] of entries.entries()) {
        const result = done[i];
        const resource = entry.resource;
        if (!resource || !result?.reference || result.status === 'failed') continue;
        const query = creates.get(i);
        if (query) learnedConditionals.set(query, result.reference);
        if (!DEDUPLICATED_TYPES.has(resource.resourceType)) continue;
        for (const key of identityKeys(resource))
          if (!identities.has(key)) identities.set(key, result.reference);
      }
      return { identities, conditionals: learnedConditionals };
    },
  };
}

export function resourceTypeOf(entry: BundleEntry): string {
  return entry.resource?.resourceType ?? entry.request?.url?.split(/[/?]/)[0] ?? 'unknown';
}

/** `Type|system|value` for each identifier with both (the dedupe key). */
export function identityKeys(resource: Resource): string[] {
  const identifiers = (resource as { identifier?: Identifier[] }).identifier ?? [];
  return identifiers
    .filter((i) => typeof i.system === 'string' && typeof i.value === 'string' && i.system && i.value)
    .map((i) => `${resource.resourceType}|${i.system}|${i.value}`);
}

/** The identifier search for an identity key (`Type|system|value`), if one token search expresses it. */
function identityQuery(resourceType: string, key: string): string | undefined {
  const token = key.slice(resourceType.length + 1);
  return /[,$\\]/.test(token) ? undefined : `${resourceType}?identifier=${token}`;
}

/**
 * The chunk's conditional creates and identity lookups not already known to this import that
 * certainly match nothing (one statement for all of them; nothing is written before the chunk's
 * entries are prepared, so the answer holds throughout): a new hospital or practitioner file is
 * thousands of these, each otherwise a search of its own.
 */
async function absentQueries(
  repo: VaultRepository,
  entries: readonly BundleEntry[],
  caches: ImportCaches,
): Promise<Set<string>> {
  const queries = new Set<string>();
  for (const entry of entries) {
    const resource = entry.resource;
    if (entry.request?.method === 'POST' && entry.request.ifNoneExist) {
      const query = `${entry.request.url}?${entry.request.ifNoneExist}`;
      if (!caches.conditionals.has(query)) queries.add(query);
    }
    if (!resource || !DEDUPLICATED_TYPES.has(resource.resourceType) || entry.request?.method !== 'POST')
      continue;
    for (const key of identityKeys(resource)) {
      const query = identityQuery(resource.resourceType, key);
      if (query && !caches.identities.has(key)) queries.add(query);
    }
  }
  const list = [...queries];
  let empty: Set<number>;
  try {
    empty = await repo.certainlyEmpty(list);
  } catch {
    return new Set(); // a query the search cannot parse: each is asked (and reported) on its own
  }
  return new Set([...empty].map((i) => list[i] as string));
}

async function settleConditionalCreate(
  repo: VaultRepository,
  query: string,
  caches: ImportCaches,
  absent: ReadonlySet<string>,
): Promise<string | undefined> {
  const cached = caches.conditionals.get(query);
  if (cached) return cached;
  if (absent.has(query)) return undefined;
  const matches = await repo.searchResources({ ...parseSearchRequest(query), count: 2 });
  if (matches.length !== 1 || !matches[0]?.id) return undefined; // several: the router reports it
  const reference = `${matches[0].resourceType}/${matches[0].id}`;
  caches.conditionals.set(query, reference);
  return reference;
}

async function findExisting(
  repo: VaultRepository,
  resourceType: string,
  keys: string[],
  caches: ImportCaches,
  absent: ReadonlySet<string>,
): Promise<string | undefined> {
  for (const key of keys) {
    const cached = caches.identities.get(key);
    if (cached) return cached;
  }
  for (const key of keys) {
    const query = identityQuery(resourceType, key);
    if (!query || absent.has(query)) continue;
    const matches = await repo.searchResources({
      ...parseSearchRequest(query),
      count: 2,
    });
    if (matches.length === 1 && matches[0]?.id) {
      const reference = `${resourceType}/${matches[0].id}`;
      caches.identities.set(key, reference);
      return reference;
    }
  }
  return undefined;
}

async function rewriteReferences(
  node: unknown,
  resolve: (reference: string) => Promise<string>,
): Promise<void> {
  if (Array.isArray(node)) {
    for (const item of node) await rewriteReferences(item, resolve);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const object = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(object)) {
    if (key === 'reference' && typeof value === 'string') object.reference = await resolve(value);
    else if (typeof value === 'object' && value !== null) await rewriteReferences(value, resolve);
  }
}

/** Gives a Patient without a chain address a generated one (unless it exists with one already). */
async function addressPatient(
  repo: VaultRepository,
  entry: BundleEntry,
): Promise<{ generatedAddress: string; claimCode: string } | undefined> {
  const patient = entry.resource as Resource & { identifier?: Identifier[] };
  if (patient.identifier?.some((i) => i.system === ADDRESS_SYSTEM)) return undefined;
  if (entry.request?.method === 'PUT' && patient.id) {
    const existing = (await repo.peek('Patient', patient.id)) as { identifier?: Identifier[] } | undefined;
    if (existing?.identifier?.some((i) => i.system === ADDRESS_SYSTEM)) return undefined;
  }
  const generatedAddress = generatedPatientAddress();
  patient.identifier = [...(patient.identifier ?? []), { system: ADDRESS_SYSTEM, value: generatedAddress }];
  return { generatedAddress, claimCode: newClaimCode() };
}
