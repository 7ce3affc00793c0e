/**
 * FHIRPath Patch (a Parameters body on PATCH): `add`, `insert`, `delete`, `replace`, `move`
 * on element paths of the form `Type.a.b[n].c` (simple navigation with optional indexes).
 * Paths needing FHIRPath functions (`where(...)`) are refused with a 400, not guessed.
 * @see https://hl7.org/fhir/R4/fhirpatch.html
 */
import { badRequest, OperationOutcomeError } from '@medplum/core';
import type { Parameters, ParametersParameter, Resource } from '@medplum/fhirtypes';

type Json = Record<string, unknown>;
const STEP = /^([A-Za-z][A-Za-z0-9]*)(?:\[(\d+)\])?$/;

export function isFhirPathPatch(body: unknown): body is Parameters {
  const p = body as Parameters | undefined;
  return (
    p?.resourceType === 'Parameters' &&
    (p.parameter ?? []).some((x) => x.name === 'operation' && x.part?.some((y) => y.name === 'type'))
  );
}

export function applyFhirPathPatch<T extends Resource>(resource: T, patch: Parameters): T {
  const result = structuredClone(resource) as unknown as Json;
  for (const operation of patch.parameter ?? []) {
    if (operation.name !== 'operation') continue;
    const part = (name: string) => operation.part?.find((p) => p.name === name);
    const type = part('type')?.valueCode;
    const path = part('path')?.valueString;
    if (!type || !path) throw fail('Each operation needs a type and a path');
    const { parent, key, index } = locate(result, path, resource.resourceType);
    switch (type) {
      case 'add': {
        const name = part('name')?.valueString;
        if (!name) throw fail('add needs a name');
        const target = elementAt(parent, key, index);
        if (!isObject(target)) throw fail(`add: ${path} is not an element`);
        const value = parameterValue(part('value'));
        const existing = target[name];
        target[name] =
          existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : value;
        break;
      }
      case 'insert': {
        const list = parent[key];
        const at = part('index')?.valueInteger;
        if (!Array.isArray(list) || at === undefined || at < 0 || at > list.length)
          throw fail(`insert: bad index on ${path}`);
        list.splice(at, 0, parameterValue(part('value')));
        break;
      }
      case 'delete':
        if (index === undefined) delete parent[key];
        else (parent[key] as unknown[]).splice(index, 1);
        break;
      case 'replace':
        if (elementAt(parent, key, index) === undefined) throw fail(`replace: nothing at ${path}`);
        if (index === undefined) parent[key] = parameterValue(part('value'));
        else (parent[key] as unknown[])[index] = parameterValue(part('value'));
        break;
      case 'move': {
        const list = parent[key];
        const source = part('source')?.valueInteger;
        const destination = part('destination')?.valueInteger;
        if (!Array.isArray(list) || source === undefined || destination === undefined)
          throw fail(`move: bad ${path}`);
        const [moved] = list.splice(source, 1);
        list.splice(destination, 0, moved);
        break;
      }
      default:
        throw fail(`Unknown FHIRPath Patch operation ${type}`);
    }
  }
  return result as unknown as T;
}

function locate(root: Json, path: string, resourceType: string) {
  const steps = path.split('.');
  if (steps[0] === resourceType) steps.shift();
  if (steps.length === 0) return { parent: { root } as Json, key: 'root', index: undefined };
  let current: Json = root;
  for (let i = 0; i < steps.length - 1; i++) {
    const [name, index] = step(steps[i] as string, path);
    const next = elementAt(current, name, index ?? (Array.isArray(current[name]) ? 0 : undefined));
    if (!isObject(next)) throw fail(`Path ${path} does not exist`);
    current = next;
  }
  const [key, index] = step(steps[steps.length - 1] as string, path);
  return { parent: current, key, index };
}

function step(text: string, path: string): [string, number | undefined] {
  const match = STEP.exec(text);
  if (!match) throw fail(`Unsupported FHIRPath Patch path ${path}`);
  return [match[1] as string, match[2] === undefined ? undefined : Number(match[2])];
}

function elementAt(parent: Json, key: string, index: number | undefined): unknown {
  const value = parent[key];
  return index === undefined ? value : Array.isArray(value) ? value[index] : undefined;
}

function parameterValue(parameter: ParametersParameter | undefined): unknown {
  if (!parameter) throw fail('Missing value');
  if (parameter.part?.length)
    return Object.fromEntries(parameter.part.map((p) => [p.name, parameterValue(p)]));
  const entry = Object.entries(parameter).find(([k]) => k.startsWith('value'));
  if (!entry) throw fail('Missing value');
  return entry[1];
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const fail = (message: string) => new OperationOutcomeError(badRequest(message));
