/**
 * Which patient's compartment a resource is in, per the R4 Patient CompartmentDefinition
 * (a Patient is in its own; other types by the listed search parameters), and that patient's
 * pseudonymous chain address, carried on the Patient as an identifier.
 * @see https://hl7.org/fhir/R4/compartmentdefinition-patient.html
 */
import { evalFhirPathTyped, getSearchParameter, type WithId } from '@medplum/core';
import type { Patient, Resource } from '@medplum/fhirtypes';
import { patientCompartmentDefinition } from './fhirDefinitions.ts';
import { parsedFhirPath } from './parsedFhirPath.ts';
import { localReference } from './search/indexTerms.ts';

/** Identifier system of a patient's chain address (value: lower-case 0x address). */
export const ADDRESS_SYSTEM = 'urn:medledger:address';

let paramsByType: Map<string, string[]> | undefined;

/** The compartment's search parameter codes for a type; undefined when the type is not in it. */
export function compartmentParams(resourceType: string): string[] | undefined {
  if (!paramsByType) {
    paramsByType = new Map();
    for (const entry of patientCompartmentDefinition().resource ?? []) {
      if (entry.param?.length) paramsByType.set(entry.code as string, entry.param);
    }
  }
  return paramsByType.get(resourceType);
}

/** Every patient id whose compartment holds the resource (usually one). */
export function compartmentPatients(resource: Resource): string[] {
  if (resource.resourceType === 'Patient') return resource.id ? [resource.id] : [];
  const ids = new Set<string>();
  for (const code of compartmentParams(resource.resourceType) ?? []) {
    const param = getSearchParameter(resource.resourceType, code);
    if (!param?.expression) continue;
    let values: ReturnType<typeof evalFhirPathTyped>;
    try {
      values = evalFhirPathTyped(parsedFhirPath(param.expression), [
        { type: resource.resourceType, value: resource },
      ]);
    } catch {
      continue;
    }
    for (const value of values) {
      const reference = (value.value as { reference?: unknown } | undefined)?.reference;
      if (typeof reference !== 'string') continue;
      const local = localReference(reference);
      if (local.startsWith('Patient/')) ids.add(local.slice('Patient/'.length));
    }
  }
  return [...ids];
}

/** The chain address a Patient carries, if any. */
export function patientAddressOf(patient: WithId<Patient> | Patient): string | undefined {
  // Runs on unvalidated bodies too (the access decision of a create): tolerate any shape.
  const identifiers: unknown = patient.identifier;
  if (!Array.isArray(identifiers)) return undefined;
  const value = identifiers.find((i) => i?.system === ADDRESS_SYSTEM)?.value;
  return typeof value === 'string' ? value.toLowerCase() : undefined;
}
