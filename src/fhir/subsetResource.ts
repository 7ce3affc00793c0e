/**
 * `_summary` and `_elements` on read and search: the served resource reduced to what was asked
 * for, marked SUBSETTED so that no client mistakes it for the whole record (and writes it back,
 * losing the rest). It runs at the HTTP edge after the access decision and the audit event, which
 * see the whole resource: subsetting changes what is shown, never what was decided or recorded.
 *
 * What is kept, per R4: `resourceType`, `id` and `meta` always, and the type's mandatory (min ≥ 1)
 * top-level elements; `_summary=true` the elements marked isSummary, `text` the narrative,
 * `data` everything but the narrative, `_elements` the named top-level elements (`value`,
 * `value[x]` or `valueQuantity` for a choice). Elements are chosen at the top level: a kept
 * element is served whole (Medplum's definitions carry isSummary for top-level elements only).
 * @see https://hl7.org/fhir/R4/search.html#summary
 * @see https://hl7.org/fhir/R4/search.html#elements
 */
import { OperationOutcomeError, tryGetDataType } from '@medplum/core';
import type { Bundle, Coding, Resource } from '@medplum/fhirtypes';
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
    if (keep(elementOf(resource.resourceType, name))) out[key] = value;
  }
  const meta = { ...resource.meta, tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return { ...out, meta } as T;
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
