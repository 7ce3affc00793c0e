/**
 * SMART on FHIR scopes (App Launch 2.x, https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html):
 * `<context>/<resourceType|*>.<permissions>` with permissions a non-empty, ordered subset of
 * `cruds`. v1 forms (`.read`, `.write`, `.*`) are mapped to their v2 equivalents.
 * Granular scopes with a search restriction (`?category=...`) are parsed but never grant
 * access here: this layer cannot evaluate them, so it fails closed.
 */

export type ScopeContext = 'patient' | 'user' | 'system';
export type Interaction = 'c' | 'r' | 'u' | 'd' | 's';

export const INTERACTIONS: readonly Interaction[] = ['c', 'r', 'u', 'd', 's'];

export interface ResourceScope {
  context: ScopeContext;
  /** A FHIR resource type, or `*`. */
  resourceType: string;
  permissions: ReadonlySet<Interaction>;
  /** SMART v2 granular restriction (`?category=...`); such a scope grants nothing here. */
  query?: string;
}

export interface ScopeRequest {
  context: ScopeContext;
  resourceType: string;
  interaction: Interaction;
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
): boolean {
  const parsed =
    typeof scopes === 'string'
      ? parseScopes(scopes)
      : scopes.flatMap((s) => (typeof s === 'string' ? (parseScope(s) ?? []) : [s]));
  return parsed.some(
    (s) =>
      s.query === undefined &&
      s.context === request.context &&
      (s.resourceType === '*' || s.resourceType === request.resourceType) &&
      s.permissions.has(request.interaction),
  );
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
    if (r.query !== undefined) continue;
    for (const g of parseScopes(registered)) {
      if (g.query !== undefined || g.context !== r.context) continue;
      const resourceType =
        r.resourceType === '*'
          ? g.resourceType
          : g.resourceType === '*' || g.resourceType === r.resourceType
            ? r.resourceType
            : undefined;
      if (resourceType === undefined) continue;
      const permissions = new Set(INTERACTIONS.filter((i) => r.permissions.has(i) && g.permissions.has(i)));
      if (permissions.size > 0) granted.add(formatScope({ context: r.context, resourceType, permissions }));
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
