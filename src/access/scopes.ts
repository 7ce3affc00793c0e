/**
 * SMART on FHIR scopes (App Launch 2.x, https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
 * `<context>/<resourceType|*>.<permissions>` with permissions a non-empty, ordered subset of
 * `cruds`. v1 forms (`.read`, `.write`, `.*`) are mapped to their v2 equivalents.
 * Granular scopes with a search restriction (`patient/Observation.rs?category=laboratory`) allow
 * only resources that match the restriction: a request is allowed by one provisionally only when
 * each resource it touches is then checked against it (`guarded`: the FHIR interactions, whose
 * resources pass the per-resource guard), and a resource only when it matches; anywhere else (a
 * Consent route, the access report, a proof) such a scope grants nothing.
 */

import { matchesSearchRequest, parseSearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';

export type ScopeContext = 'patient' | 'user' | 'system';
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

export const INTERACTIONS: readonly Interaction[] = ['c', 'r', 'u', 'd', 's'];

export interface ResourceScope {
  context: ScopeContext;
  /** A FHIR resource type, or `*`. */
  resourceType: string;
  permissions: ReadonlySet<Interaction>;
  /** SMART v2 granular restriction (`category=laboratory`): a search the resource must match. */
  query?: string;
}

export interface ScopeRequest {
  context: ScopeContext;
  resourceType: string;
  interaction: Interaction;
  /** Each resource the request touches is checked again, with the resource (granular scopes). */
  guarded?: boolean;
}

const SCOPE = /^(patient|user|system)\/(\*|[A-Z][A-Za-z]*)\.([a-z*]+)(\?.+)?$/;
const V1: Record<string, string> = { read: 'rs', write: 'cud', '*': 'cruds' };

/** Parses one resource scope; undefined for anything else (`openid`, `launch/patient`, malformed). */
export function parseScope(scope: string): ResourceScope | undefined {
  const match = SCOPE.exec(scope);
  if (!match) return undefined;
  const [, context, resourceType, rawPermissions, query] = match as unknown as [
    string,
    ScopeContext,
    string,
    string,
    string | undefined,
  ];
  const permissions = V1[rawPermissions] ?? rawPermissions;
  if (!/^c?r?u?d?s?$/.test(permissions) || permissions.length === 0) return undefined;
  return {
    context,
    resourceType,
    permissions: new Set(permissions.split('') as Interaction[]),
    ...(query === undefined ? {} : { query: query.slice(1) }),
  };
}

/** Splits a space-separated scope string and parses every resource scope in it. */
export function parseScopes(scope: string | readonly string[]): ResourceScope[] {
  const list = typeof scope === 'string' ? scope.split(/\s+/) : scope;
  return list.flatMap((s) => parseScope(s) ?? []);
}

/** The v2 text of a resource scope: `patient/Observation.rs`. */
export function formatScope(scope: ResourceScope): string {
  const permissions = INTERACTIONS.filter((i) => scope.permissions.has(i)).join('');
  return `${scope.context}/${scope.resourceType}.${permissions}${scope.query === undefined ? '' : `?${scope.query}`}`;
}

/** Whether any of `scopes` permits the interaction on the resource type in the given context. */
export function scopeAllows(
  scopes: string | readonly (string | ResourceScope)[],
  request: ScopeRequest,
  /** The resource itself, when the decision is about one: a granular scope must match it. */
  resource?: Resource,
): boolean {
  const parsed =
    typeof scopes === 'string'
      ? parseScopes(scopes)
      : scopes.flatMap((s) => (typeof s === 'string' ? (parseScope(s) ?? []) : [s]));
  return parsed.some(
    (s) =>
      s.context === request.context &&
      (s.resourceType === '*' || s.resourceType === request.resourceType) &&
      s.permissions.has(request.interaction) &&
      (s.query === undefined ||
        (resource !== undefined ? matchesScopeQuery(s, resource) : request.guarded === true)),
  );
}

/** Whether a resource matches a granular scope's restriction (a search of its own type). */
function matchesScopeQuery(scope: ResourceScope, resource: Resource): boolean {
  if (scope.query === undefined) return true;
  try {
    const query = Object.fromEntries(new URLSearchParams(scope.query));
    return matchesSearchRequest(resource, parseSearchRequest(resource.resourceType, query));
  } catch {
    return false;
  }
}

/**
 * The scopes to grant: what was requested, narrowed to what the client is registered for
 * (`system/*.rs` requested against `system/Observation.cruds` registered gives
 * `system/Observation.rs`). Exact: it allows a request iff both inputs do.
 */
export function intersectScopes(
  requested: string | readonly string[],
  registered: string | readonly string[],
): string[] {
  const granted = new Set<string>();
  for (const r of parseScopes(requested)) {
    for (const g of parseScopes(registered)) {
      if (g.context !== r.context) continue;
      // A restriction narrows: granted with the one asked or registered; two different ones, not at all.
      if (r.query !== undefined && g.query !== undefined && r.query !== g.query) continue;
      const query = r.query ?? g.query;
      const resourceType =
        r.resourceType === '*'
          ? g.resourceType
          : g.resourceType === '*' || g.resourceType === r.resourceType
            ? r.resourceType
            : undefined;
      if (resourceType === undefined) continue;
      const permissions = new Set(INTERACTIONS.filter((i) => r.permissions.has(i) && g.permissions.has(i)));
      if (permissions.size > 0)
        granted.add(
          formatScope({
            context: r.context,
            resourceType,
            permissions,
            ...(query === undefined ? {} : { query }),
          }),
        );
    }
  }
  return [...granted];
}

/**
 * The scope of a refresh (RFC 6749 §6): what is asked, each scope within what was granted
 * (`patient/Observation.r` within `patient/*.rs`; `openid` only if granted). Undefined if any
 * asked scope reaches beyond the grant: a refresh narrows, never widens.
 */
export function narrowScopes(requested: string, granted: string): string[] | undefined {
  const grantedList = granted.split(/\s+/).filter(Boolean);
  const narrowed: string[] = [];
  for (const scope of requested.split(/\s+/).filter(Boolean)) {
    const parsed = parseScope(scope);
    if (parsed === undefined) {
      if (!grantedList.includes(scope)) return undefined;
    } else {
      const within = intersectScopes([scope], grantedList);
      if (parsed.query !== undefined || within.length !== 1 || within[0] !== formatScope(parsed))
        return undefined;
    }
    narrowed.push(scope);
  }
  return narrowed;
}
