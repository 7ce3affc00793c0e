/**
 * A schema-aware walk over a resource (contained and nested resources included): each visited
 * element comes with its FHIRPath-style location (`Patient.name[0].family`), its R4 type code
 * and its element definition (binding, definition path). The extra checks beside Medplum's
 * validator (bindings, invariants Medplum skips, extension contexts) are visitors of this walk.
 * @see https://hl7.org/fhir/R4/elementdefinition.html
 */
import { type InternalSchemaElement, type InternalTypeSchema, tryGetDataType } from '@medplum/core';

export interface VisitedElement {
  /** The value (a primitive, or an object for complex types). */
  value: unknown;
  /** Where it is, as an OperationOutcome `expression` (`Observation.component[1].code`). */
  location: string;
  /** Its R4 type (`code`, `HumanName`, `ObservationComponent`). */
  type: string;
  /** Its element definition, from the type that declares it (none for a resource's root). */
  element: InternalSchemaElement | undefined;
  /** Its path in its definition (`HumanName.family`, `Observation.component`; the type for a root). */
  definitionPath: string;
  /** Extensions on it: `extension` of a complex value, `_name.extension` of a primitive. */
  extensions: readonly unknown[];
}

export type ElementVisitor = (visited: VisitedElement) => void;

const ROOT_TYPES = new Set(['Resource', 'DomainResource']);

/** Visits every element of a resource, its contained resources and any nested resource. */
export function walkElements(resource: unknown, visit: ElementVisitor, location?: string): void {
  if (!isObject(resource) || typeof resource.resourceType !== 'string') return;
  const schema = tryGetDataType(resource.resourceType);
  if (!schema) return;
  const at = location ?? resource.resourceType;
  const extensions = [resource.extension, resource.modifierExtension].flatMap((list) =>
    Array.isArray(list) ? list : [],
  );
  visit({
    value: resource,
    location: at,
    type: resource.resourceType,
    element: undefined,
    definitionPath: resource.resourceType,
    extensions,
  });
  walkObject(resource, schema, at, visit);
}

function walkObject(
  value: Record<string, unknown>,
  schema: InternalTypeSchema,
  location: string,
  visit: ElementVisitor,
): void {
  for (const [key, element] of Object.entries(schema.elements)) {
    const choice = key.endsWith('[x]');
    const base = choice ? key.slice(0, -3) : key;
    for (const { code } of element.type) {
      const name = choice ? base + code.charAt(0).toUpperCase() + code.slice(1) : base;
      const raw = value[name];
      const primitiveExtras = value[`_${name}`];
      if (raw === undefined && primitiveExtras === undefined) continue;
      const values = Array.isArray(raw) ? raw : [raw];
      const extras = Array.isArray(primitiveExtras) ? primitiveExtras : [primitiveExtras];
      const count = Math.max(values.length, extras.length);
      for (let i = 0; i < count; i++) {
        const item = values[i];
        const extra = extras[i];
        const at = `${location}.${name}${element.isArray || Array.isArray(raw) ? `[${i}]` : ''}`;
        visitValue(item, extra, code, element, at, visit);
      }
    }
  }
  walkExtensions(value, location, visit);
}

/** Extension values are elements too (Medplum's schemas leave `extension` out). */
function walkExtensions(holder: unknown, location: string, visit: ElementVisitor): void {
  if (!isObject(holder)) return;
  const schema = tryGetDataType('Extension');
  if (!schema) return;
  for (const key of ['extension', 'modifierExtension']) {
    const list = holder[key];
    if (!Array.isArray(list)) continue;
    list.forEach((extension, i) => {
      if (isObject(extension)) walkObject(extension, schema, `${location}.${key}[${i}]`, visit);
    });
  }
}

function visitValue(
  item: unknown,
  extra: unknown,
  code: string,
  element: InternalSchemaElement,
  at: string,
  visit: ElementVisitor,
): void {
  if (ROOT_TYPES.has(code) || code === 'Resource') {
    if (isObject(item) && typeof item.resourceType === 'string') walkElements(item, visit, at);
    return;
  }
  const extensions = isObject(item)
    ? [item.extension, item.modifierExtension].flatMap((list) => (Array.isArray(list) ? list : []))
    : [];
  const primitiveExtensions = isObject(extra) && Array.isArray(extra.extension) ? extra.extension : [];
  visit({
    value: item,
    location: at,
    type: code,
    element,
    definitionPath: element.path,
    extensions: [...extensions, ...primitiveExtensions],
  });
  walkExtensions(extra, at, visit);
  if (!isObject(item)) return;
  const schema = tryGetDataType(code);
  if (schema && !isPrimitiveCode(code)) walkObject(item, schema, at, visit);
}

function isPrimitiveCode(code: string): boolean {
  return code.charAt(0) === code.charAt(0).toLowerCase();
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
