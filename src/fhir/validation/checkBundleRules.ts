/**
 * Rules on a Bundle's own structure that Medplum's validator does not make, as the HL7
 * validator does: fullUrls are absolute and, when they look like a RESTful URL, end with the
 * entry's type and id; links have each relation once; search matches carry ids; and inside a
 * document or message, a reference resolves to one entry only (a versioned one to its version).
 * @see https://hl7.org/fhir/R4/bundle.html#bundle-unique
 * @see https://hl7.org/fhir/R4/bundle.html#references
 */
import { isResourceType } from '@medplum/core';
import type { OperationOutcomeIssue } from '@medplum/fhirtypes';
import { invalidIssue } from './ValidationIssue.ts';
import { isObject, type VisitedElement, walkElements } from './walkElements.ts';

const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:/;
const UUID_URN = /^urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
const HISTORY = /\/_history\/[^/]+$/;

interface Entry {
  index: number;
  fullUrl: string | undefined;
  resource: Record<string, unknown> | undefined;
}

export function checkBundleRules(visited: VisitedElement, issues: OperationOutcomeIssue[]): void {
  if (visited.type !== 'Bundle' || visited.element !== undefined || !isObject(visited.value)) return;
  const bundle = visited.value;
  const at = visited.location;
  const entries: Entry[] = (Array.isArray(bundle.entry) ? bundle.entry : []).map((entry, index) => ({
    index,
    fullUrl: isObject(entry) && typeof entry.fullUrl === 'string' ? entry.fullUrl : undefined,
    resource: isObject(entry) && isObject(entry.resource) ? entry.resource : undefined,
  }));
  checkLinks(bundle.link, at, issues);
  for (const entry of entries) checkFullUrl(entry, at, issues);
  if (bundle.type === 'searchset') checkSearchIds(bundle.entry, at, issues);
  if (bundle.type === 'document' || bundle.type === 'message') checkReferences(entries, at, issues);
}

function checkLinks(links: unknown, at: string, issues: OperationOutcomeIssue[]): void {
  if (!Array.isArray(links)) return;
  const seen = new Set<string>();
  links.forEach((link, i) => {
    if (!isObject(link) || typeof link.relation !== 'string') return;
    if (seen.has(link.relation))
      issues.push(
        invalidIssue(`${at}.link[${i}]`, `The link relation '${link.relation}' can only occur once`),
      );
    seen.add(link.relation);
  });
}

function checkFullUrl(
  { index, fullUrl, resource }: Entry,
  at: string,
  issues: OperationOutcomeIssue[],
): void {
  if (fullUrl === undefined) return;
  const where = `${at}.entry[${index}].fullUrl`;
  if (!ABSOLUTE.test(fullUrl) || (fullUrl.startsWith('urn:uuid:') && !UUID_URN.test(fullUrl))) {
    issues.push(invalidIssue(where, `The fullUrl must be an absolute URL (not '${fullUrl}')`));
    return;
  }
  const type = resource?.resourceType;
  const id = resource?.id;
  if (!/^https?:/.test(fullUrl) || typeof type !== 'string' || typeof id !== 'string') return;
  const segments = fullUrl.replace(HISTORY, '').split('/');
  const urlType = segments[segments.length - 2];
  if (urlType === undefined || !isResourceType(urlType)) return; // not a RESTful-looking URL
  if (urlType !== type || segments[segments.length - 1] !== id)
    issues.push(
      invalidIssue(
        where,
        `The fullUrl '${fullUrl}' looks like a RESTful server URL, so it must end with /${type}/${id}`,
      ),
    );
}

function checkSearchIds(entries: unknown, at: string, issues: OperationOutcomeIssue[]): void {
  if (!Array.isArray(entries)) return;
  entries.forEach((entry, i) => {
    if (!isObject(entry) || !isObject(entry.resource)) return;
    const mode = isObject(entry.search) ? entry.search.mode : undefined;
    if (mode !== 'match' && mode !== 'include') return;
    if (typeof entry.resource.id !== 'string')
      issues.push(invalidIssue(`${at}.entry[${i}].resource`, 'Search results must have ids', 'required'));
  });
}

/** Within a document or message: each reference names one entry (by fullUrl, and version if given). */
function checkReferences(entries: readonly Entry[], at: string, issues: OperationOutcomeIssue[]): void {
  const byUrl = new Map<string, Entry[]>();
  for (const entry of entries) {
    if (!entry.fullUrl) continue;
    const key = entry.fullUrl.replace(HISTORY, '');
    byUrl.set(key, [...(byUrl.get(key) ?? []), entry]);
  }
  for (const entry of entries) {
    if (!entry.resource) continue;
    walkElements(
      entry.resource,
      ({ type, value, location }) => {
        if (type !== 'Reference' || !isObject(value) || typeof value.reference !== 'string') return;
        const reference = value.reference;
        if (reference.startsWith('#')) return;
        const target = resolve(reference, entry.fullUrl);
        const candidates = target ? (byUrl.get(target.url) ?? []) : [];
        if (!target || candidates.length === 0) return;
        if (target.version === undefined) {
          if (candidates.length > 1)
            issues.push(invalidIssue(location, `Multiple matches in the bundle for reference ${reference}`));
          return;
        }
        const versioned = candidates.filter((c) => {
          const meta = c.resource?.meta;
          return isObject(meta) && meta.versionId === target.version;
        });
        if (versioned.length !== 1)
          issues.push(
            invalidIssue(
              location,
              `Reference ${reference} matches ${versioned.length} entries of that version in the bundle (expected 1)`,
            ),
          );
      },
      `${at}.entry[${entry.index}].resource`,
    );
  }
}

function resolve(reference: string, base: string | undefined): { url: string; version?: string } | undefined {
  const version = /\/_history\/([^/]+)$/.exec(reference)?.[1];
  const plain = reference.replace(HISTORY, '');
  if (ABSOLUTE.test(plain)) return version === undefined ? { url: plain } : { url: plain, version };
  const segments = base?.replace(HISTORY, '').split('/') ?? [];
  if (!base || !/^https?:/.test(base) || segments.length < 3) return undefined;
  const url = `${segments.slice(0, -2).join('/')}/${plain}`;
  return version === undefined ? { url } : { url, version };
}
