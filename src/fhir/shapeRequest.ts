/**
 * What the HTTP edge settles about a search or read before Medplum's router sees it: the
 * `Prefer: handling` of the request's own search, the raw parameters Medplum's parser would
 * misread (checkRawSearchParameters), and the `_summary` / `_elements` subsetting, which is
 * checked now but applied only to the answer, after the access decision and the audit event.
 * A problem is an OperationOutcomeError (400 naming the parameter).
 * @see https://hl7.org/fhir/R4/search.html#errors
 * @see https://hl7.org/fhir/R4/search.html#summary
 */
import { OperationOutcomeError } from '@medplum/core';
import { checkRawSearchParameters, type SearchHandling } from './search/checkSearchRequest.ts';
import { type Subsetting, subsettingOf, unknownElementNames } from './subsetResource.ts';
import { outcome } from './toOperationOutcome.ts';
import type { VaultRepository } from './VaultRepository.ts';

export interface ShapeRequestParameters {
  interaction: string;
  method: string;
  /** The route's path parameters (`resourceType`, `compartmentType`, `id`). */
  params: Record<string, string | undefined>;
  query: Record<string, string | string[] | undefined>;
  /** The query string as routed (without `_format` / `_pretty`). */
  queryString: string;
  /** The parsed body; a POST `_search`'s form fields. */
  body: unknown;
  prefer: string | undefined;
  /** The request's repository: its search handling and what the edge left out are set on it. */
  repo: VaultRepository;
}

export interface ShapedRequest {
  /** Whether the interaction is the request's own search (type, compartment or system). */
  searching: boolean;
  /** Whether it is a read or vread. */
  reading: boolean;
  subsetting: Subsetting | undefined;
  queryString: string;
  body: unknown;
}

export function shapeRequest(p: ShapeRequestParameters): ShapedRequest {
  const searching = p.interaction === 'search-type' || p.interaction === 'search-system';
  const reading = p.interaction === 'read' || p.interaction === 'vread';
  const handling = handlingOf(p.prefer);
  let { queryString, body } = p;
  if (searching) {
    p.repo.searchHandling = handling;
    const type = p.params.resourceType ?? p.params.compartmentType;
    const form = p.method === 'POST';
    if (type) {
      const raw = form
        ? Object.entries(body as Record<string, string>)
        : [...new URLSearchParams(queryString).entries()];
      const checked = checkRawSearchParameters(type, raw, handling);
      p.repo.searchIgnored = checked.ignored;
      // Rewritten only when something changed: otherwise the router gets the query as sent.
      if (JSON.stringify(checked.params) !== JSON.stringify(raw)) {
        if (form) body = Object.fromEntries(checked.params);
        else queryString = new URLSearchParams(checked.params).toString();
      }
    }
  }
  const source = searching && p.method === 'POST' ? (body as Record<string, string>) : p.query;
  const subsetting = searching || reading ? subsettingOf(source) : undefined;
  // A search checks `_elements` names itself (checkSearchRequest); a read here.
  const type = p.params.resourceType;
  const unknown =
    reading && subsetting?.elements && type ? unknownElementNames(type, subsetting.elements) : [];
  if (unknown.length > 0 && handling === 'strict')
    throw new OperationOutcomeError(
      outcome(undefined, 'not-supported', `_elements: ${type} has no element ${unknown.join(', ')}`, [
        '_elements',
      ]),
    );
  return { searching, reading, subsetting, queryString, body };
}

/** `Prefer: handling=lenient` (R4 search.html#errors); anything else, or nothing, is strict. */
function handlingOf(prefer: string | undefined): SearchHandling {
  return /(?:^|[,;\s])handling\s*=\s*"?lenient"?/i.test(prefer ?? '') ? 'lenient' : 'strict';
}
