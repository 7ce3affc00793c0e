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

/** Longest string prefix kept; longer query values are looked up by their first this-many characters. */
export const MAX_PREFIX = 12;
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
    const code = param.code as string;
    let values: ReturnType<typeof evalFhirPathTyped>;
    try {
      values = evalFhirPathTyped(param.expression, [{ type: resource.resourceType, value: resource }]);
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

/** Prefixes (1..MAX_PREFIX chars) of the whole normalized string and of each of its words. */
export function stringTerms(value: string): string[] {
  const normalized = normalizeText(value);
  const starts = [normalized, ...normalized.split(/[\s,.;:()\-/]+/).filter(Boolean)];
  const terms = new Set<string>();
  for (const start of starts) {
    for (let n = 1; n <= Math.min(MAX_PREFIX, start.length); n++) terms.add(`str:${start.slice(0, n)}`);
  }
  return [...terms];
}

/** The one term a string query value is looked up by. */
export function stringQueryTerm(value: string): string {
  return `str:${normalizeText(value).slice(0, MAX_PREFIX)}`;
}
