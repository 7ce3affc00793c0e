/**
 * Chained (`subject.name=Smith`, `subject:Patient.name=Smith`, `patient.identifier=sys|1`) and
 * reverse-chained (`_has:Observation:patient:code=1234-5`) search parameters, one level deep,
 * resolved into plain filters before the search runs: the inner search runs first, through the
 * same caller's access (a resource the caller may not see is never a link in the chain, so a
 * chain tells nothing about records the caller cannot read), and its matches become a reference
 * filter (`subject=Patient/1,Patient/2`) or an `_id` filter. An inner search matching more than
 * {@link MAX_CHAIN_MATCHES} resources is refused as too broad rather than answered partly.
 * @see https://hl7.org/fhir/R4/search.html#chaining
 * @see https://hl7.org/fhir/R4/search.html#has
 */
import {
  evalFhirPath,
  type Filter,
  getSearchParameter,
  isResourceType,
  OperationOutcomeError,
  Operator,
  parseSearchRequest,
  type SearchRequest,
} from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { parsedFhirPath } from '../parsedFhirPath.ts';
import { checkSearchRequest } from './checkSearchRequest.ts';

export const MAX_CHAIN_MATCHES = 1000;
/** A reference no resource has (ids never contain `#`): an inner search that matched nothing. */
const NOTHING = '#none';

export interface ChainContext {
  /** The caller's own search of one type, unpaged (access applied). */
  find(request: SearchRequest): Promise<Resource[]>;
}

/** Whether a filter is a chain or a reverse chain this module resolves. */
export function isChain(filter: Filter): boolean {
  return filter.code.startsWith('_has:') || filter.code.includes('.');
}

/**
 * The request with every chain replaced by the filter it resolves to; `asked` maps each such
 * filter back to the chain it came from (the Bundle's links name what the client asked).
 */
export async function resolveChains(
  ctx: ChainContext,
  request: SearchRequest,
): Promise<{ request: SearchRequest; asked: Map<Filter, Filter> }> {
  const asked = new Map<Filter, Filter>();
  if (!(request.filters ?? []).some(isChain)) return { request, asked };
  const filters: Filter[] = [];
  for (const filter of request.filters ?? []) {
    if (!isChain(filter)) {
      filters.push(filter);
      continue;
    }
    const resolved = filter.code.startsWith('_has:')
      ? await reverseChain(ctx, request.resourceType, filter)
      : await forwardChain(ctx, request.resourceType, filter);
    asked.set(resolved, filter);
    filters.push(resolved);
  }
  return { request: { ...request, filters }, asked };
}

async function forwardChain(ctx: ChainContext, resourceType: string, filter: Filter): Promise<Filter> {
  const dot = filter.code.indexOf('.');
  const head = filter.code.slice(0, dot);
  const rest = filter.code.slice(dot + 1);
  if (rest.includes('.')) throw invalid(`${filter.code}: one level of chaining is supported`, filter.code);
  const [name = '', typeHint] = head.split(':');
  const param = getSearchParameter(resourceType, name);
  if (param?.type !== 'reference')
    throw invalid(
      `${name} is not a reference search parameter of ${resourceType}, so it cannot be chained`,
      filter.code,
    );
  const allowed = param.target ?? [];
  if (typeHint !== undefined && !allowed.includes(typeHint as never))
    throw invalid(`${name} does not refer to ${typeHint}`, filter.code);
  const chained = rest.split(':')[0] as string;
  const targets = (typeHint !== undefined ? [typeHint] : allowed).filter((t) =>
    getSearchParameter(t, chained),
  );
  if (targets.length === 0)
    throw invalid(`${chained} is not a search parameter of what ${name} refers to`, filter.code);
  const refs: string[] = [];
  for (const target of targets) {
    const matches = await inner(ctx, target, rest, filter.value, filter.code);
    refs.push(...matches.map((m) => `${target}/${m.id}`));
    if (refs.length > MAX_CHAIN_MATCHES) throw tooBroad(filter.code);
  }
  return {
    code: name,
    operator: Operator.EQUALS,
    value: refs.length > 0 ? refs.join(',') : `${targets[0]}/${NOTHING}`,
  };
}

async function reverseChain(ctx: ChainContext, resourceType: string, filter: Filter): Promise<Filter> {
  const [, type = '', reference = '', ...restParts] = filter.code.split(':');
  const rest = restParts.join(':');
  if (!isResourceType(type) || !reference || !rest)
    throw invalid(`${filter.code}: _has takes _has:Type:reference:parameter`, filter.code);
  if (rest.startsWith('_has')) throw invalid(`${filter.code}: one level of _has is supported`, filter.code);
  const param = getSearchParameter(type, reference);
  if (param?.type !== 'reference' || !(param.target ?? []).includes(resourceType as never))
    throw invalid(
      `${reference} is not a search parameter of ${type} that refers to ${resourceType}`,
      filter.code,
    );
  const matches = await inner(ctx, type, rest, filter.value, filter.code);
  const ids = new Set<string>();
  const prefix = `${resourceType}/`;
  for (const match of matches)
    for (const value of evalFhirPath(parsedFhirPath(param.expression as string), match)) {
      const ref = (value as { reference?: string } | undefined)?.reference;
      if (typeof ref === 'string' && ref.startsWith(prefix)) ids.add(ref.slice(prefix.length));
    }
  return { code: '_id', operator: Operator.EQUALS, value: ids.size > 0 ? [...ids].join(',') : NOTHING };
}

/** The inner search, checked as strictly as any search (an unsupported inner parameter is a 400). */
async function inner(
  ctx: ChainContext,
  type: string,
  parameter: string,
  value: string,
  expression: string,
): Promise<Resource[]> {
  const parsed = parseSearchRequest(type, { [parameter]: value });
  let request: SearchRequest;
  try {
    request = checkSearchRequest(parsed, 'strict').request;
  } catch (error) {
    const text = error instanceof OperationOutcomeError ? error.outcome.issue?.[0]?.details?.text : undefined;
    throw invalid(`${expression}: ${text ?? 'the chained parameter is not supported'}`, expression);
  }
  const matches = await ctx.find({ ...request, count: MAX_CHAIN_MATCHES + 1 });
  if (matches.length > MAX_CHAIN_MATCHES) throw tooBroad(expression);
  return matches;
}

const invalid = (text: string, expression: string) =>
  new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'not-supported', details: { text }, expression: [expression] }],
  });

const tooBroad = (expression: string) =>
  new OperationOutcomeError({
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: 'too-costly',
        details: { text: `${expression} matches more than ${MAX_CHAIN_MATCHES} resources: narrow it` },
        expression: [expression],
      },
    ],
  });
