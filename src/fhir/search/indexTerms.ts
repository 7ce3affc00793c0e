/**
 * The plaintext terms a resource is findable by, per search parameter, before blinding:
 * tokens (`code`, `system|code`, `system|`), references (`Type/id` and `id`), uris, `_id`, and
 * normalized string prefixes. Dates, numbers and quantities are not indexed (a date of birth
 * is identifying, and ranges cannot be matched on a keyed hash): they are matched on the
 * decrypted candidates. FHIRPath comes from @medplum/core, never written here.
 * @see https://hl7.org/fhir/R4/search.html
 */
import {
  convertToSearchableReferences,
  convertToSearchableStrings,
  convertToSearchableTokens,
  convertToSearchableUris,
  evalFhirPathTyped,
  getSearchParameters,
} from '@medplum/core';
import type { Resource, SearchParameter } from '@medplum/fhirtypes';
import { loadFhirDefinitions } from '../fhirDefinitions.ts';
import { parsedFhirPath } from '../parsedFhirPath.ts';

/**
 * The string prefix lengths kept in the index. A query value is looked up by its longest prefix
 * of one of these lengths (`stringQueryTerm`) and then matched exactly on the decrypted
 * candidates, so fewer lengths cost candidate reads, not correctness: four rows per word instead
 * of twelve made the index (and import) about twice as cheap.
 */
export const PREFIX_LENGTHS = [1, 3, 6, 12] as const;
const INDEXED_TYPES = new Set(['token', 'reference', 'uri', 'string']);

export interface IndexTerm {
  code: string;
  term: string;
}

/** Lower case, accents stripped, whitespace collapsed. */
export function normalizeText(value: string): string {
  return value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().replace(/\s+/g, ' ').trim();
}

/** Whether a search parameter is answered from the blind index. */
export function isIndexed(param: SearchParameter): boolean {
  return param.code === '_id' || (INDEXED_TYPES.has(param.type ?? '') && Boolean(param.expression));
}

export function indexTerms(resource: Resource & { id: string }): IndexTerm[] {
  loadFhirDefinitions(); // the search parameters: a node rebuilding its index at start has not loaded them (a no-op once loaded)
  const terms = new Set<string>();
  const out: IndexTerm[] = [];
  const add = (code: string, term: string) => {
    const key = `${code}\u0000${term}`;
    if (terms.has(key)) return;
    terms.add(key);
    out.push({ code, term });
  };
  add('_id', idTerm(resource.id));
  for (const param of Object.values(getSearchParameters(resource.resourceType) ?? {})) {
    if (param.code === '_id' || !isIndexed(param) || !param.expression) continue;
    if (indexCodeOf(resource.resourceType, param.code as string) !== param.code) continue; // shares another's rows
    const code = param.code as string;
    let values: ReturnType<typeof evalFhirPathTyped>;
    try {
      values = evalFhirPathTyped(parsedFhirPath(param.expression), [
        { type: resource.resourceType, value: resource },
      ]);
    } catch {
      continue; // an expression that does not apply to this resource indexes nothing
    }
    if (values.length === 0) continue;
    switch (param.type) {
      case 'token':
        for (const t of convertToSearchableTokens(values)) for (const term of tokenTerms(t)) add(code, term);
        break;
      case 'reference':
        for (const r of convertToSearchableReferences(values))
          for (const term of referenceTerms(r)) add(code, term);
        break;
      case 'uri':
        for (const u of convertToSearchableUris(values)) add(code, uriTerm(u));
        break;
      case 'string':
        for (const s of convertToSearchableStrings(values))
          for (const term of stringTerms(s)) add(code, term);
        break;
    }
  }
  return out;
}

export const idTerm = (id: string) => `id:${id}`;
export const uriTerm = (uri: string) => `uri:${uri}`;

export function tokenTerms(token: { system?: string | undefined; value?: string | undefined }): string[] {
  const system = token.system ?? '';
  const value = (token.value ?? '').toLowerCase();
  const terms: string[] = [];
  if (value) terms.push(`tok:${value}`, `tok:${system}|${value}`);
  if (system) terms.push(`tok:${system}|`);
  return terms;
}

/** `Patient/123` (any base URL stripped) and the bare id, so `subject=123` finds it too. */
export function referenceTerms(reference: string): string[] {
  const local = localReference(reference);
  const slash = local.lastIndexOf('/');
  return slash > 0 ? [`ref:${local}`, `ref:${local.slice(slash + 1)}`] : [`ref:${local}`];
}

/** Strips a base URL and a version: `http://x/fhir/Patient/1/_history/2` → `Patient/1`. */
export function localReference(reference: string): string {
  const withoutHistory = reference.replace(/\/_history\/[^/]+$/, '');
  const match = /([A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64})$/.exec(withoutHistory);
  return match?.[1] ?? withoutHistory;
}

/**
 * The index code a parameter's terms are stored under. `phonetic` (Patient, Practitioner,
 * Person, RelatedPerson) has the same FHIRPath as `name` in R4 and medledger matches it like
 * `name`, so it is looked up in `name`'s rows rather than writing every name twice.
 */
export function indexCodeOf(resourceType: string, code: string): string {
  if (code !== 'phonetic') return code;
  const params = getSearchParameters(resourceType) ?? {};
  const phonetic = params.phonetic?.expression;
  return phonetic && phonetic === params.name?.expression ? 'name' : code;
}

/** Prefixes (of the `PREFIX_LENGTHS`) of the whole normalized string and of each of its words. */
export function stringTerms(value: string): string[] {
  const normalized = normalizeText(value);
  const starts = [normalized, ...normalized.split(/[\s,.;:()\-/]+/).filter(Boolean)];
  const terms = new Set<string>();
  for (const start of starts) {
    for (const n of PREFIX_LENGTHS) if (n <= start.length) terms.add(`str:${start.slice(0, n)}`);
  }
  return [...terms];
}

/** The one term a string query value is looked up by: its longest indexed prefix. */
export function stringQueryTerm(value: string): string {
  const normalized = normalizeText(value);
  const length = PREFIX_LENGTHS.filter((n) => n <= normalized.length).at(-1) ?? 0;
  return `str:${normalized.slice(0, length)}`;
}
