import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatScope,
  type Interaction,
  intersectScopes,
  parseScope,
  type ScopeContext,
  scopeAllows,
} from './scopes.ts';

const contexts: ScopeContext[] = ['patient', 'user', 'system'];
const types = ['Observation', 'Patient', 'Condition', '*'];
const interactions: Interaction[] = ['c', 'r', 'u', 'd', 's'];

const arbContext = fc.constantFrom(...contexts);
const arbPermissions = fc
  .subarray(interactions, { minLength: 1 })
  .map((list) => interactions.filter((i) => list.includes(i)).join(''));
const arbScope = fc
  .tuple(arbContext, fc.constantFrom(...types), arbPermissions)
  .map(([c, t, p]) => `${c}/${t}.${p}`);
const arbScopes = fc.array(fc.oneof(arbScope, fc.constantFrom('openid', 'launch/patient', 'fhirUser')), {
  maxLength: 5,
});
const arbRequest = fc.record({
  context: arbContext,
  resourceType: fc.constantFrom('Observation', 'Patient', 'Condition', 'Encounter'),
  interaction: fc.constantFrom(...interactions),
});

describe('SMART scopes', () => {
  it('a v2 scope allows exactly its context, type and permissions', () => {
    expect(
      scopeAllows('patient/Observation.rs', {
        context: 'patient',
        resourceType: 'Observation',
        interaction: 'r',
      }),
    ).toBe(true);
    expect(
      scopeAllows('patient/Observation.rs', {
        context: 'patient',
        resourceType: 'Observation',
        interaction: 'u',
      }),
    ).toBe(false);
    expect(
      scopeAllows('patient/Observation.rs', {
        context: 'user',
        resourceType: 'Observation',
        interaction: 'r',
      }),
    ).toBe(false);
    expect(
      scopeAllows('patient/Observation.rs', {
        context: 'patient',
        resourceType: 'Condition',
        interaction: 'r',
      }),
    ).toBe(false);
    expect(
      scopeAllows('system/*.cruds', { context: 'system', resourceType: 'Condition', interaction: 'd' }),
    ).toBe(true);
  });

  it('v1 read, write and * map to rs, cud and cruds', () => {
    expect(formatScope(parseScope('user/Observation.read')!)).toBe('user/Observation.rs');
    expect(formatScope(parseScope('user/Observation.write')!)).toBe('user/Observation.cud');
    expect(formatScope(parseScope('patient/*.*')!)).toBe('patient/*.cruds');
  });

  it('rejects permissions out of order, unknown letters and unknown contexts', () => {
    for (const bad of [
      'user/Observation.rc',
      'user/Observation.x',
      'admin/Observation.r',
      'user/observation.r',
      'user/Observation.',
    ]) {
      expect(parseScope(bad)).toBeUndefined();
    }
  });

  it('a granular scope with a search restriction grants nothing here (fails closed)', () => {
    expect(parseScope('patient/Observation.rs?category=laboratory')?.query).toBe('category=laboratory');
    expect(
      scopeAllows('patient/Observation.rs?category=laboratory', {
        context: 'patient',
        resourceType: 'Observation',
        interaction: 'r',
      }),
    ).toBe(false);
  });

  it('formatting a parsed scope and parsing it again is the identity', () => {
    fc.assert(
      fc.property(arbScope, (scope) => {
        const parsed = parseScope(scope)!;
        expect(parseScope(formatScope(parsed))).toEqual(parsed);
        expect(formatScope(parsed)).toBe(scope);
      }),
    );
  });

  it('scopeAllows is monotone: adding scopes never removes access', () => {
    fc.assert(
      fc.property(arbScopes, arbScopes, arbRequest, (a, b, request) => {
        if (scopeAllows(a, request)) expect(scopeAllows([...a, ...b], request)).toBe(true);
      }),
    );
  });

  it('a wildcard type allows whatever the named type allows', () => {
    fc.assert(
      fc.property(arbContext, arbPermissions, arbRequest, (context, permissions, request) => {
        if (scopeAllows([`${context}/${request.resourceType}.${permissions}`], request)) {
          expect(scopeAllows([`${context}/*.${permissions}`], request)).toBe(true);
        }
      }),
    );
  });

  it('granted scopes (requested ∩ registered) allow a request iff both sides allow it', () => {
    fc.assert(
      fc.property(arbScopes, arbScopes, arbRequest, (requested, registered, request) => {
        const granted = intersectScopes(requested, registered);
        expect(scopeAllows(granted, request)).toBe(
          scopeAllows(requested, request) && scopeAllows(registered, request),
        );
      }),
      { numRuns: 500 },
    );
  });
});
