/**
 * Conditional references (`"reference": "Organization?identifier=urn:x|1"`) are resolved on
 * write to the one resource the search finds; none or several is an error (the transaction
 * fails). A reference naming an unknown resource type is refused. Paths go into the outcome.
 * @see https://hl7.org/fhir/R4/http.html#trules (conditional references)
 */
import { badRequest, isResourceType, OperationOutcomeError, parseSearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

type Search = (query: string) => Promise<Resource[]>;

const RELATIVE = /^([A-Za-z]+)\/[A-Za-z0-9\-.]{1,64}(\/_history\/[A-Za-z0-9\-.]{1,64})?$/;
const CONDITIONAL = /^([A-Za-z]+)\?(.+)$/;

export async function resolveConditionalReferences(resource: Resource, search: Search): Promise<void> {
  await walk(resource as unknown as Record<string, unknown>, resource.resourceType, search);
}

async function walk(node: unknown, path: string, search: Search): Promise<void> {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) await walk(node[i], `${path}[${i}]`, search);
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  const object = node as Record<string, unknown>;
  for (const [key, value] of Object.entries(object)) {
    if (key === 'contained') continue;
    if (key === 'reference' && typeof value === 'string') {
      object.reference = await resolve(value, `${path}.reference`, search);
    } else await walk(value, `${path}.${key}`, search);
  }
}

async function resolve(reference: string, path: string, search: Search): Promise<string> {
  const conditional = CONDITIONAL.exec(reference);
  if (conditional) {
    const type = conditional[1] as string;
    if (!isResourceType(type)) throw invalid(`Unknown resource type ${type} in reference`, path);
    parseSearchRequest(reference); // rejects unknown search parameters with a 400
    const matches = await search(reference);
    if (matches.length !== 1)
      throw invalid(
        `Conditional reference ${reference} matched ${matches.length} resources (need exactly 1)`,
        path,
      );
    return `${type}/${matches[0]?.id}`;
  }
  const relative = RELATIVE.exec(reference);
  if (relative && !isResourceType(relative[1] as string))
    throw invalid(`Unknown resource type ${relative[1]} in reference`, path);
  return reference;
}

const invalid = (message: string, path: string) => new OperationOutcomeError(badRequest(message, path));
