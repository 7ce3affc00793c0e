/**
 * Candidate ids from the blind index: for each indexed search filter the ids having any of its
 * values (OR within a parameter), intersected across parameters (AND). `undefined` means no
 * filter could use the index: the caller scans the type.
 */
import { type Filter, getSearchParameter, Operator } from '@medplum/core';
import { type Queryable, statement } from '../../store/db.ts';
import { patientCompartmentDefinition } from '../fhirDefinitions.ts';
import {
  idTerm,
  indexCodeOf,
  isIndexed,
  referenceTerms,
  stringQueryTerm,
  tokenTerms,
  uriTerm,
} from './indexTerms.ts';
import type { SearchIndexKey } from './SearchIndexKey.ts';

/** Operators the index can narrow by (everything else is checked on decrypted candidates only). */
const INDEXED_OPERATORS = new Set<string>([Operator.EQUALS, Operator.EXACT]);

/** By value alone (its own index; type and code are inside the HMAC), type and code rechecked. */
const IDS_WITH_ANY = statement(`SELECT DISTINCT resource_id FROM fhir_search_index
WHERE value = ANY($3::text[]::bytea[]) AND resource_type = $1 AND code = $2`);
const IN_COMPARTMENT = statement(`SELECT DISTINCT resource_type, resource_id FROM fhir_search_index
WHERE value = ANY($1::text[]::bytea[])`);
const ALL_IDS = statement(
  `SELECT resource_id FROM fhir_search_index WHERE resource_type = $1 AND code = '_id'`,
);

export async function lookupCandidates(
  q: Queryable,
  key: SearchIndexKey,
  resourceType: string,
  filters: readonly Filter[],
): Promise<Set<string> | undefined> {
  let result: Set<string> | undefined;
  for (const filter of filters) {
    const terms = filterTerms(resourceType, filter);
    if (!terms) continue;
    const ids = await idsWithAny(q, key, resourceType, indexCodeOf(resourceType, filter.code), terms);
    result = result ? new Set([...result].filter((id) => ids.has(id))) : ids;
    if (result.size === 0) break;
  }
  return result;
}

/** The ids of `resourceType` whose `code` index holds any of `terms`. */
export async function idsWithAny(
  q: Queryable,
  key: SearchIndexKey,
  resourceType: string,
  code: string,
  terms: readonly string[],
): Promise<Set<string>> {
  const values = blindHex(key, resourceType, code, terms).map(asByteaText);
  const rows = await q.query<{ resource_id: string }>(IDS_WITH_ANY, [resourceType, code, values]);
  return new Set(rows.map((r) => r.resource_id));
}

const PRESENT_VALUES = statement(`SELECT DISTINCT value, resource_type, code FROM fhir_search_index
WHERE value = ANY($1::text[]::bytea[])`);

/**
 * Of several searches, those that certainly match nothing now, found with one statement: a
 * search matches nothing when one of its filters narrows by the index and no index row holds any
 * of that filter's values (as {@link lookupCandidates} would find). Searches it cannot decide
 * that way are left out, as are those with candidates (which may still not match on recheck).
 */
export async function certainlyEmpty(
  q: Queryable,
  key: SearchIndexKey,
  searches: readonly { resourceType: string; filters: readonly Filter[] }[],
): Promise<Set<number>> {
  const wanted: { search: number; values: string[]; resourceType: string; code: string }[] = [];
  const all = new Set<string>();
  for (const [search, { resourceType, filters }] of searches.entries()) {
    for (const filter of filters) {
      const terms = filterTerms(resourceType, filter);
      if (!terms) continue;
      const code = indexCodeOf(resourceType, filter.code);
      const values = blindHex(key, resourceType, code, terms);
      for (const value of values) all.add(value);
      wanted.push({ search, values, resourceType, code });
    }
  }
  if (wanted.length === 0) return new Set();
  const rows = await q.query<{ value: Uint8Array; resource_type: string; code: string }>(PRESENT_VALUES, [
    [...all].map(asByteaText),
  ]);
  const present = new Set(
    rows.map((r) => `${r.resource_type}\n${r.code}\n${Buffer.from(r.value).toString('hex')}`),
  );
  const empty = new Set<number>();
  for (const { search, values, resourceType, code } of wanted) {
    if (!values.some((v) => present.has(`${resourceType}\n${code}\n${v}`))) empty.add(search);
  }
  return empty;
}

/** The hex blind index values of `terms` for a type's index `code`. */
function blindHex(
  key: SearchIndexKey,
  resourceType: string,
  code: string,
  terms: readonly string[],
): string[] {
  return terms.map((t) => key.blind(resourceType, code, t).toString('hex'));
}

/** A bytea in its text form, as the `text[]::bytea[]` parameters take it. */
const asByteaText = (hex: string) => `\\x${hex}`;

/** Every current id of a type (each current version has an `_id` row). */
export async function allIds(q: Queryable, resourceType: string): Promise<Set<string>> {
  const rows = await q.query<{ resource_id: string }>(ALL_IDS, [resourceType]);
  return new Set(rows.map((r) => r.resource_id));
}

/**
 * Candidates for a patient's compartment: resources whose compartment parameters (R4 Patient
 * CompartmentDefinition) reference `Patient/{id}`: one blind value per compartment (type,
 * parameter), all looked up in one statement. Callers recheck membership on the
 * decrypted resource (compartmentPatients). The Patient itself is not included.
 */
export async function patientCompartmentCandidates(
  q: Queryable,
  key: SearchIndexKey,
  patientId: string,
): Promise<{ resourceType: string; id: string }[]> {
  const term = `ref:Patient/${patientId}`;
  const { types, codes } = compartmentIndexKeys();
  const values = types.map((type, i) => `\\x${key.blind(type, codes[i]!, term).toString('hex')}`);
  const rows = await q.query<{ resource_type: string; resource_id: string }>(IN_COMPARTMENT, [values]);
  return rows.map((r) => ({ resourceType: r.resource_type, id: r.resource_id }));
}

let compartmentKeys: { types: string[]; codes: string[] } | undefined;

/** The (type, index code) pairs of every indexed Patient compartment parameter. */
function compartmentIndexKeys(): { types: string[]; codes: string[] } {
  if (compartmentKeys) return compartmentKeys;
  const pairs = new Set<string>();
  for (const entry of patientCompartmentDefinition().resource ?? []) {
    const type = entry.code as string;
    for (const code of entry.param ?? []) {
      const param = getSearchParameter(type, code);
      if (!param || !isIndexed(param)) continue;
      pairs.add(`${type}\u0000${indexCodeOf(type, code)}`);
    }
  }
  const split = [...pairs].map((pair) => pair.split('\u0000') as [string, string]);
  compartmentKeys = { types: split.map(([t]) => t), codes: split.map(([, c]) => c) };
  return compartmentKeys;
}

function filterTerms(resourceType: string, filter: Filter): string[] | undefined {
  if (!INDEXED_OPERATORS.has(filter.operator)) return undefined;
  const param = getSearchParameter(resourceType, filter.code);
  if (!param || !isIndexed(param)) return undefined;
  const values = splitValues(filter.value);
  if (values.length === 0) return undefined;
  if (filter.code === '_id') return values.map(idTerm);
  switch (param.type) {
    case 'token':
      return values.map((v) => {
        const bar = v.indexOf('|');
        if (bar < 0) return `tok:${v.toLowerCase()}`;
        const system = v.slice(0, bar);
        const code = v.slice(bar + 1);
        if (!system) return `tok:${code.toLowerCase()}`; // `|code`: the exact check enforces "no system"
        return tokenTerms({ system, value: code }).at(code ? 1 : 0) ?? `tok:${system}|`;
      });
    case 'reference':
      return values.map((v) => referenceTerms(v)[0] ?? `ref:${v}`);
    case 'uri':
      return values.map(uriTerm);
    case 'string':
      return values.map(stringQueryTerm);
    default:
      return undefined;
  }
}

/** Comma separates alternatives (OR); `\,` is a literal comma. */
function splitValues(value: string): string[] {
  return value
    .split(/(?<!\\),/)
    .map((v) => v.replace(/\\,/g, ','))
    .filter((v) => v.length > 0);
}
