/**
 * FHIR search over encrypted data (docs/search.md): candidates from the blind index, each
 * candidate read through the vault (decrypted and verified), matched exactly with
 * @medplum/core's matchesSearchRequest, filtered by the caller's access, then sorted, paged
 * and joined with `_include` / `_revinclude`.
 * @see https://hl7.org/fhir/R4/search.html
 */

import {
  evalFhirPath,
  type Filter,
  formatSearchQuery,
  getSearchParameter,
  matchesSearchRequest,
  Operator,
  type SearchRequest,
  type SortRule,
} from '@medplum/core';
import type { Bundle, BundleEntry, BundleLink, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import type { Queryable } from '../../store/db.ts';
import { parsedFhirPath } from '../parsedFhirPath.ts';
import { compartmentPatients } from '../patientCompartment.ts';
import { checkSearchRequest, type SearchHandling } from './checkSearchRequest.ts';
import { normalizeText } from './indexTerms.ts';
import { allIds, countOfOnePatient, lookupCandidates } from './lookupCandidates.ts';
import { isQuantityFilter, matchesQuantity } from './matchesQuantity.ts';
import { resolveChains } from './resolveChains.ts';
import type { SearchIndexKey } from './SearchIndexKey.ts';

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
/** Candidates read with one statement (one round trip instead of one per candidate). */
const PREFETCH = 250;

export interface SearchVaultContext {
  q: Queryable;
  key: SearchIndexKey;
  /** Reads a current version, verified; undefined when missing, gone or not allowed. */
  read(resourceType: string, id: string): Promise<Resource | undefined>;
  /** The caller's decision for a resource of one patient alone, if it can be made without the resource. */
  allowsPatient?(resourceType: string, patientId: string): Promise<boolean>;
  /** Loads the current versions of these ids together, so the `read`s that follow are cheap. */
  prefetch?(resourceType: string, ids: readonly string[]): Promise<void>;
  /** Base URL for links: `http://host/fhir`. */
  baseUrl: string;
}

export interface SearchVaultOptions {
  /** Limit to one patient's compartment (`/Patient/{id}/Observation`). */
  compartmentPatient?: string;
  /**
   * Candidates only from this patient's compartment, nothing else changed (links, matching): a
   * patient's own search, whose every result must be in their compartment to be allowed anyway,
   * then costs what their data costs, not what the whole database does.
   */
  boundTo?: string;
  /** `Prefer: handling=`: refuse what cannot be answered (default) or leave it out (checkSearchRequest). */
  handling?: SearchHandling;
  /** What the HTTP edge already left out (lenient: checkRawSearchParameters), for the outcome entry. */
  ignored?: readonly OperationOutcomeIssue[];
}

/** All matching resources (unpaged), in the requested order. */
export async function findMatches(
  ctx: SearchVaultContext,
  request: SearchRequest,
  options: SearchVaultOptions = {},
): Promise<Resource[]> {
  return (await collectMatches(ctx, request, options, undefined)).matches;
}

/**
 * Matching resources in the requested order. With `limit` (only without sort rules: candidates
 * are then taken in id order) it stops after that many matches; `complete` says whether every
 * candidate was examined, so that `matches.length` is the total.
 */
async function collectMatches(
  ctx: SearchVaultContext,
  request: SearchRequest,
  options: SearchVaultOptions,
  limit: number | undefined,
): Promise<{ matches: Resource[]; complete: boolean }> {
  const filters = (request.filters ?? []).map((f) => qualifyReference(request.resourceType, f));
  const bound = options.compartmentPatient ?? options.boundTo;
  const candidates =
    (await lookupCandidates(ctx.q, ctx.key, request.resourceType, filters, bound)) ??
    (await allIds(ctx.q, request.resourceType));
  // String filters are matched here (FHIR: case- and accent-insensitive prefix; :exact; :contains);
  // every other filter by Medplum's matcher.
  const stringFilters = filters.filter(
    (f) =>
      isStringFilter(request.resourceType, f) ||
      isTokenTextFilter(request.resourceType, f) ||
      isUriPrefixFilter(request.resourceType, f),
  );
  const quantityFilters = filters.filter((f) => isQuantityFilter(request.resourceType, f));
  const matchRequest: SearchRequest = {
    resourceType: request.resourceType,
    filters: filters.filter((f) => !stringFilters.includes(f) && !quantityFilters.includes(f)),
  };
  const matches: Resource[] = [];
  const ids = [...candidates].sort();
  // Limited: the first prefetch is about the page's size (most candidates match), then full chunks.
  const firstChunk = limit === undefined ? PREFETCH : Math.min(PREFETCH, limit + 1);
  let prefetched = 0;
  for (const [i, id] of ids.entries()) {
    if (limit !== undefined && matches.length >= limit) return { matches, complete: false };
    if (i === prefetched) {
      const size = i === 0 ? firstChunk : PREFETCH;
      await ctx.prefetch?.(request.resourceType, ids.slice(i, i + size));
      prefetched = i + size;
    }
    const resource = await ctx.read(request.resourceType, id);
    if (!resource) continue;
    if (!matchesSearchRequest(resource, matchRequest)) continue;
    if (!stringFilters.every((f) => matchesString(resource, f))) continue;
    if (!quantityFilters.every((f) => matchesQuantity(resource, f))) continue;
    if (options.compartmentPatient && !compartmentPatients(resource).includes(options.compartmentPatient))
      continue;
    matches.push(resource);
  }
  return { matches: sortResources(matches, request.sortRules), complete: true };
}

export async function searchVault(
  ctx: SearchVaultContext,
  asked: SearchRequest,
  options: SearchVaultOptions = {},
  path: string = asked.resourceType,
): Promise<Bundle> {
  const chains = await resolveChains({ find: (r) => findMatches(ctx, r, {}) }, asked);
  const checked = checkSearchRequest(chains.request, options.handling, options.ignored);
  const request = checked.request;
  // Links name what the client asked: each chain as written, not the references it resolved to.
  const linked: SearchRequest = {
    ...request,
    filters: (request.filters ?? []).map((f) => chains.asked.get(f) ?? f),
  };
  const offset = Math.max(0, request.offset ?? 0);
  const count = Math.min(MAX_COUNT, Math.max(0, request.count ?? DEFAULT_COUNT));
  // Every match is decrypted and checked, so a total costs reading all of them. Without sort
  // rules and without `_total=accurate|estimate` or `_summary=count` the page is read only up
  // to one match past its end; `total` is then given when the candidates ran out first
  // (https://hl7.org/fhir/R4/search.html#total: the server may omit it).
  const needTotal =
    count === 0 || // `_summary=count` parses to count 0, total accurate
    request.total === 'accurate' ||
    request.total === 'estimate' ||
    (request.sortRules?.length ?? 0) > 0;
  const counted = needTotal ? await countFromIndex(ctx, request, options) : undefined;
  const { matches, complete } =
    counted !== undefined && count === 0
      ? { matches: [], complete: false }
      : await collectMatches(
          ctx,
          request,
          options,
          needTotal && counted === undefined ? undefined : offset + count + 1,
        );
  const total = counted ?? (complete ? matches.length : undefined);
  const page = matches.slice(offset, offset + count);
  const entry: BundleEntry[] = page.map((resource) => ({
    fullUrl: `${ctx.baseUrl}/${resource.resourceType}/${resource.id}`,
    resource,
    search: { mode: 'match' },
  }));
  if (count > 0) entry.push(...(await includes(ctx, request, page)));
  if (checked.ignored.length > 0)
    entry.push({
      resource: { resourceType: 'OperationOutcome', issue: checked.ignored },
      search: { mode: 'outcome' },
    });
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    ...(total === undefined ? {} : { total }),
    link: pageLinks(ctx.baseUrl, path, linked, offset, count, total ?? matches.length),
    ...(entry.length ? { entry } : {}),
  };
}

/**
 * A search's total without decrypting anything, when the index answers it exactly for one patient
 * the caller is allowed for (lookupCandidates `countOfOnePatient`); undefined otherwise. Not with
 * sort rules (the page must be sorted over every match anyway).
 */
async function countFromIndex(
  ctx: SearchVaultContext,
  request: SearchRequest,
  options: SearchVaultOptions,
): Promise<number | undefined> {
  if (!ctx.allowsPatient || (request.sortRules?.length ?? 0) > 0) return undefined;
  const filters = (request.filters ?? []).map((f) => qualifyReference(request.resourceType, f));
  const bound = options.compartmentPatient ?? options.boundTo;
  const patient = bound ?? namedPatient(filters);
  if (patient === undefined || !(await ctx.allowsPatient(request.resourceType, patient))) return undefined;
  return countOfOnePatient(ctx.q, ctx.key, request.resourceType, filters, patient, bound !== undefined);
}

/** The one patient a reference filter names (`patient=Patient/123`), if one does. */
function namedPatient(filters: readonly Filter[]): string | undefined {
  for (const f of filters) {
    if (f.operator !== Operator.EQUALS || f.value.includes(',')) continue;
    const match = /^Patient\/([A-Za-z0-9\-.]{1,64})$/.exec(f.value);
    if (match) return match[1];
  }
  return undefined;
}

/** `patient=123` means `patient=Patient/123` when the parameter targets one type (FHIR search, reference). */
function qualifyReference(resourceType: string, filter: Filter): Filter {
  const param = getSearchParameter(resourceType, filter.code);
  if (param?.type !== 'reference' || param.target?.length !== 1) return filter;
  const target = param.target[0] as string;
  const value = filter.value
    .split(',')
    .map((v) => (v.includes('/') || v === '' ? v : `${target}/${v}`))
    .join(',');
  return { ...filter, value };
}

const STRING_OPERATORS = new Set<string>([Operator.EQUALS, Operator.EXACT, Operator.CONTAINS]);

function isStringFilter(resourceType: string, filter: Filter): boolean {
  return (
    STRING_OPERATORS.has(filter.operator) && getSearchParameter(resourceType, filter.code)?.type === 'string'
  );
}

/**
 * FHIR string search: by default a value matches when it, or one of its words, starts with the
 * query (case and accents ignored); `:exact` is whole-value equality; `:contains` any substring.
 * @see https://hl7.org/fhir/R4/search.html#string
 */
/** `code:text=heart`: a string search of a token's text (R4: CodeableConcept.text, Coding.display, Identifier.type.text). */
function isTokenTextFilter(resourceType: string, filter: Filter): boolean {
  return filter.operator === Operator.TEXT && getSearchParameter(resourceType, filter.code)?.type === 'token';
}

/** `url:below=http://acme.org/fhir/` (the value starts with it), `url:above=...` (it starts with the value). */
function isUriPrefixFilter(resourceType: string, filter: Filter): boolean {
  return (
    (filter.operator === Operator.ABOVE || filter.operator === Operator.BELOW) &&
    getSearchParameter(resourceType, filter.code)?.type === 'uri'
  );
}

function tokenTexts(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(tokenTexts);
  if (!value || typeof value !== 'object') return [];
  const v = value as { text?: unknown; display?: unknown; coding?: unknown; type?: { text?: unknown } };
  return [
    ...(typeof v.text === 'string' ? [v.text] : []),
    ...(typeof v.display === 'string' ? [v.display] : []),
    ...(typeof v.type?.text === 'string' ? [v.type.text] : []),
    ...tokenTexts(v.coding),
  ];
}

function matchesString(resource: Resource, filter: Filter): boolean {
  const param = getSearchParameter(resource.resourceType, filter.code);
  if (!param?.expression) return false;
  let values: string[];
  try {
    const found = evalFhirPath(parsedFhirPath(param.expression), resource);
    values = filter.operator === Operator.TEXT ? found.flatMap(tokenTexts) : found.flatMap(stringsOf);
  } catch {
    return false;
  }
  const wanted = filter.value.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ','));
  if (filter.operator === Operator.EXACT) return values.some((v) => wanted.includes(v));
  if (filter.operator === Operator.BELOW) return values.some((v) => wanted.some((w) => v.startsWith(w)));
  if (filter.operator === Operator.ABOVE) return values.some((v) => wanted.some((w) => w.startsWith(v)));
  const normalized = values.map(normalizeText);
  return wanted
    .map(normalizeText)
    .some((w) =>
      normalized.some((v) =>
        filter.operator === Operator.CONTAINS
          ? v.includes(w)
          : v.startsWith(w) || v.split(/[\s,.;:()\-/]+/).some((word) => word.startsWith(w)),
      ),
    );
}

/** String leaves of a value (a HumanName or Address yields its parts). */
function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(stringsOf);
  if (value && typeof value === 'object') return Object.values(value).flatMap(stringsOf);
  return [];
}

export function sortResources(resources: Resource[], rules: readonly SortRule[] | undefined): Resource[] {
  if (!rules?.length) return resources;
  const keyed = resources.map((resource) => ({
    resource,
    keys: rules.map((rule) => sortKey(resource, rule.code)),
  }));
  keyed.sort((a, b) => {
    for (let i = 0; i < rules.length; i++) {
      const x = a.keys[i] ?? '';
      const y = b.keys[i] ?? '';
      if (x === y) continue;
      if (x === '') return 1; // missing values last
      if (y === '') return -1;
      const order = x < y ? -1 : 1;
      return rules[i]?.descending ? -order : order;
    }
    return 0;
  });
  return keyed.map((k) => k.resource);
}

function sortKey(resource: Resource, code: string): string {
  if (code === '_id') return resource.id ?? '';
  if (code === '_lastUpdated') return resource.meta?.lastUpdated ?? '';
  const param = getSearchParameter(resource.resourceType, code);
  if (!param?.expression) return '';
  let values: unknown[];
  try {
    values = evalFhirPath(parsedFhirPath(param.expression), resource);
  } catch {
    return '';
  }
  const first = values[0];
  if (first === undefined) return '';
  if (typeof first === 'string') return param.type === 'string' ? normalizeText(first) : first;
  if (typeof first === 'number') return first.toFixed(10).padStart(30, '0');
  if (typeof first === 'object' && first !== null) {
    const o = first as Record<string, unknown>;
    const v = o.start ?? o.value ?? o.family ?? o.code ?? o.reference ?? stringsOf(o)[0];
    return typeof v === 'number' ? v.toFixed(10).padStart(30, '0') : normalizeText(String(v ?? ''));
  }
  return String(first);
}

async function includes(ctx: SearchVaultContext, request: SearchRequest, page: Resource[]) {
  const seen = new Set(page.map((r) => `${r.resourceType}/${r.id}`));
  const out: BundleEntry[] = [];
  const add = (resource: Resource | undefined) => {
    if (!resource) return;
    const key = `${resource.resourceType}/${resource.id}`;
    if (seen.has(key)) return;
    seen.add(key);
    out.push({ fullUrl: `${ctx.baseUrl}/${key}`, resource, search: { mode: 'include' } });
  };
  for (const include of request.include ?? []) {
    const param = getSearchParameter(include.resourceType, include.searchParam);
    if (!param?.expression) continue;
    for (const resource of page.filter((r) => r.resourceType === include.resourceType)) {
      for (const value of evalFhirPath(parsedFhirPath(param.expression), resource)) {
        const reference = (value as { reference?: unknown }).reference;
        if (typeof reference !== 'string') continue;
        const [type, id] = reference.split('/').slice(-2);
        if (!type || !id || (include.targetType && include.targetType !== type)) continue;
        add(await ctx.read(type, id));
      }
    }
  }
  for (const rev of request.revInclude ?? []) {
    const references = page.map((r) => `${r.resourceType}/${r.id}`);
    if (references.length === 0) continue;
    const found = await findMatches(ctx, {
      resourceType: rev.resourceType as Resource['resourceType'],
      filters: [{ code: rev.searchParam, operator: Operator.EQUALS, value: references.join(',') }],
    });
    for (const resource of found) add(resource);
  }
  return out;
}

function pageLinks(
  baseUrl: string,
  path: string,
  request: SearchRequest,
  offset: number,
  count: number,
  /** The total, or (when not every candidate was read) at least one more than the page needs. */
  found: number,
): BundleLink[] {
  // Medplum writes `_fields` and drops `_summary`; R4 links keep the client's `_elements` and `_summary`.
  const subsetting = [
    ...(request.fields?.length ? [`_elements=${request.fields.map(encodeURIComponent).join(',')}`] : []),
    ...(request.summary ? [`_summary=${request.summary}`] : []),
  ];
  const { fields: _fields, ...unsubsetted } = request;
  const at = (o: number) => {
    const query = formatSearchQuery({ ...unsubsetted, offset: o, count });
    const extra = subsetting.join('&');
    return `${baseUrl}/${path}${query}${extra ? `${query ? '&' : '?'}${extra}` : ''}`;
  };
  const links: BundleLink[] = [{ relation: 'self', url: at(offset) }];
  if (count > 0) {
    links.push({ relation: 'first', url: at(0) });
    if (offset + count < found) links.push({ relation: 'next', url: at(offset + count) });
    if (offset > 0) links.push({ relation: 'previous', url: at(Math.max(0, offset - count)) });
  }
  return links;
}
