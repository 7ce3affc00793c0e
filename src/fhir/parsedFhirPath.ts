/**
 * FHIRPath expressions parsed once. `evalFhirPath(string, ...)` of @medplum/core parses its
 * expression on every call; indexing a resource evaluates one expression per search parameter
 * of its type (a Practitioner: 20), so the parse was a large share of an import. The expressions
 * come from the R4 SearchParameter definitions, so the map is bounded by them.
 */
import { type FhirPathAtom, parseFhirPath } from '@medplum/core';

const parsed = new Map<string, FhirPathAtom>();
/** Definitions hold some hundreds of distinct expressions; a bound in case a caller passes others. */
const MAX_ENTRIES = 4096;

export function parsedFhirPath(expression: string): FhirPathAtom {
  let atom = parsed.get(expression);
  if (!atom) {
    atom = parseFhirPath(expression);
    if (parsed.size >= MAX_ENTRIES) parsed.clear();
    parsed.set(expression, atom);
  }
  return atom;
}
