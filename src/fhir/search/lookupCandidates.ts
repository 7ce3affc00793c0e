/**
 * Candidate ids from the blind index: for each indexed search filter the ids having any of its
 * values (OR within a parameter), intersected across parameters (AND). `undefined` means no
 * filter could use the index: the caller scans the type.
 */
import { type Filter, getSearchParameter, Operator } from '@medplum/core';
import { type Queryable, statement } from '../../store/db.ts';
import { patientCompartmentDefinition } from '../fhirDefinitions.ts';
import { compartmentParams } from '../patientCompartment.ts';
import { COMPARTMENT_CODE, compartmentSizeTerm, compartmentTerm } from './indexRows.ts';
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

const IN_COMPARTMENT = statement(`SELECT DISTINCT resource_type, resource_id FROM fhir_search_index
WHERE value = ANY($1::text[]::bytea[])`);
const ALL_IDS = statement(
  `SELECT resource_id FROM fhir_search_index WHERE resource_type = $1 AND code = '_id'`,
);

/**
 * The ids having a value of every clause (OR within a clause, AND across clauses), in id order,
 * with one statement. Type and parameter are inside each value's HMAC, so the value alone says
 * them: every condition is on the (value, resource_id) index. The first clause drives: its rows
 * are read from the index, and every other clause is one probe of the index per driving row (a
 * correlated subquery kept from becoming a join by `OFFSET 0`: as a join the planner may read
 * every row of a common value, every Observation with one code, and the cost would grow with
 * all the data rather than with the driving clause's rows).
 */
function intersectionSql(clauses: number): string {
  const probes = Array.from(
    { length: clauses - 1 },
    (_, i) => `
AND EXISTS (SELECT 1 FROM fhir_search_index x WHERE x.value = ANY($${i + 2}::text[]::bytea[])
  AND x.resource_id = d.resource_id OFFSET 0)`,
  ).join('');
  return `SELECT DISTINCT d.resource_id FROM fhir_search_index d
WHERE d.value = ANY($1::text[]::bytea[])${probes}
ORDER BY d.resource_id`;
}

/** Prepared for up to this many clauses; a search with more sends its SQL as text. */
const PREPARED_CLAUSES = 6;
const INTERSECTIONS = Array.from({ length: PREPARED_CLAUSES }, (_, i) => statement(intersectionSql(i + 1)));

/**
 * Candidate ids (in id order) for a search's filters, bounded by a patient's compartment when
 * `compartmentPatient` is given (`/Patient/{id}/Observation`, or a patient's own search).
 * Undefined when neither a filter nor the compartment can use the index: the caller scans the type.
 */
export async function lookupCandidates(
  q: Queryable,
  key: SearchIndexKey,
  resourceType: string,
  filters: readonly Filter[],
  compartmentPatient?: string,
): Promise<Set<string> | undefined> {
  const clauses: { values: string[]; rank: number }[] = [];
  if (compartmentPatient !== undefined) {
    const values = compartmentValues(key, resourceType, compartmentPatient);
    if (values) clauses.push({ values, rank: 0 });
  }
  for (const filter of filters) {
    const terms = filterTerms(resourceType, filter);
    if (!terms) continue;
    const code = indexCodeOf(resourceType, filter.code);
    clauses.push({
      values: blindHex(key, resourceType, code, terms),
      rank: drivingRank(resourceType, filter),
    });
  }
  if (clauses.length === 0) return undefined;
  // Stable: among equal ranks, the query's order.
  const ordered = clauses.map((c, i) => ({ ...c, i })).sort((x, y) => x.rank - y.rank || x.i - y.i);
  return idsWithAll(
    q,
    ordered.map((c) => c.values.map(asByteaText)),
  );
}

/**
 * Which clause drives the look-up, lowest first: a reference to a Patient (one patient's data is
 * bounded however large the database grows), then `_id`, other references, tokens and uris, and
 * strings last (a 1- to 12-character prefix is the least selective).
 */
function drivingRank(resourceType: string, filter: Filter): number {
  if (filter.code === '_id') return 1;
  const param = getSearchParameter(resourceType, filter.code);
  if (param?.type === 'reference')
    return splitValues(filter.value).every((v) => v.startsWith('Patient/')) ? 0 : 2;
  return param?.type === 'string' ? 4 : 3;
}

async function idsWithAll(q: Queryable, clauses: readonly string[][]): Promise<Set<string>> {
  const sql = INTERSECTIONS[clauses.length - 1] ?? intersectionSql(clauses.length);
  const rows = await q.query<{ resource_id: string }>(sql, clauses);
  return new Set(rows.map((r) => r.resource_id));
}

/**
 * How many resources match these filters, from the index alone (nothing decrypted), when that
 * is exact and concerns one patient only: every filter is one the index answers exactly (token
 * and uri equality, a typed reference, `_id`), and every match is in `patientId`'s compartment
 * and in no other patient's (its `cmp#1` row). Then one access decision, for that patient,
 * decides every match, and the request's audit event, which names that patient, is the one
 * they find. Undefined otherwise (the caller reads and decides each candidate).
 */
export async function countOfOnePatient(
  q: Queryable,
  key: SearchIndexKey,
  resourceType: string,
  filters: readonly Filter[],
  patientId: string,
  bounded: boolean,
): Promise<number | undefined> {
  if (!filters.every((f) => answeredExactly(resourceType, f))) return undefined;
  const compartment = compartmentValues(key, resourceType, patientId);
  if (!compartment) return undefined;
  const clauses = filters
    .map((f, i) => ({ f, i, rank: drivingRank(resourceType, f) }))
    .sort((x, y) => x.rank - y.rank || x.i - y.i)
    .map(({ f }) =>
      blindHex(key, resourceType, indexCodeOf(resourceType, f.code), filterTerms(resourceType, f) ?? []),
    );
  const alone = blindHex(key, resourceType, COMPARTMENT_CODE, [compartmentSizeTerm(1)]);
  const matching = bounded ? [compartment, ...clauses] : clauses;
  if (matching.length === 0) return undefined;
  const [all, own] = await Promise.all([
    idsWithAll(
      q,
      matching.map((c) => c.map(asByteaText)),
    ),
    idsWithAll(
      q,
      [compartment, ...clauses, alone].map((c) => c.map(asByteaText)),
    ),
  ]);
  return all.size === own.size ? own.size : undefined;
}

/** Whether the index rows of a filter are exactly its matches (no recheck could remove one). */
function answeredExactly(resourceType: string, filter: Filter): boolean {
  if (filter.operator !== Operator.EQUALS) return false;
  if (filter.code === '_id') return true;
  const param = getSearchParameter(resourceType, filter.code);
  if (!param || !isIndexed(param)) return false;
  const values = splitValues(filter.value);
  if (values.length === 0) return false;
  switch (param.type) {
    case 'token': // case-insensitive like the index (as @medplum/core matches); `|code` means "no system"
      return values.every((v) => !v.startsWith('|'));
    case 'reference':
      return values.every((v) => /^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/.test(v));
    case 'uri':
      return true;
    default:
      return false; // strings: a prefix of the value, rechecked
  }
}

/** The ids of `resourceType` whose `code` index holds any of `terms`. */
export async function idsWithAny(
  q: Queryable,
  key: SearchIndexKey,
  resourceType: string,
  code: string,
  terms: readonly string[],
): Promise<Set<string>> {
  return idsWithAll(q, [blindHex(key, resourceType, code, terms).map(asByteaText)]);
}

/**
 * The blind value of a patient's compartment among a type's rows (indexRows: the same
 * `compartmentPatients` the access decision uses); undefined for a type outside the Patient
 * compartment (no bound: its resources concern no patient).
 */
function compartmentValues(
  key: SearchIndexKey,
  resourceType: string,
  patientId: string,
): string[] | undefined {
  if (resourceType !== 'Patient' && compartmentParams(resourceType) === undefined) return undefined;
  return blindHex(key, resourceType, COMPARTMENT_CODE, [compartmentTerm(patientId)]);
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
