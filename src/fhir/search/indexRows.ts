/**
 * Every blind index row a resource version gets: its search parameters' terms (indexTerms) and
 * its Patient compartment (`_compartment`): one `cmp:{id}` per patient whose compartment holds
 * it, computed by the same `compartmentPatients` the access decision and the audit event use,
 * and `cmp#{n}`, how many they are. Searches are bounded by the first; a count is answered
 * without decrypting when the second says every candidate concerns the decided patient alone.
 */
import type { Resource } from '@medplum/fhirtypes';
import { compartmentPatients } from '../patientCompartment.ts';
import { type IndexTerm, indexTerms } from './indexTerms.ts';

/** The index code of the compartment rows (not a search parameter: `_` names are reserved). */
export const COMPARTMENT_CODE = '_compartment';
export const compartmentTerm = (patientId: string) => `cmp:${patientId}`;
export const compartmentSizeTerm = (patients: number) => `cmp#${patients}`;

export function indexRows(resource: Resource & { id: string }): IndexTerm[] {
  const patients = compartmentPatients(resource);
  return [
    ...indexTerms(resource),
    ...patients.map((id) => ({ code: COMPARTMENT_CODE, term: compartmentTerm(id) })),
    { code: COMPARTMENT_CODE, term: compartmentSizeTerm(patients.length) },
  ];
}
