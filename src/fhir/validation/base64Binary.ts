/**
 * base64Binary as R4 defines it: `(\s*([0-9a-zA-Z\+/=]){4}\s*)+`, so whitespace and line breaks
 * between groups of four are allowed (MIME-style output, 76 characters a line, is common: a
 * Synthea US Core Device.udiCarrier.carrierAIDC, the HL7 example DiagnosticReport-gingival-mass).
 * Medplum's validator allows no whitespace at all, which refused such a resource and, in an
 * import, the whole patient's transaction. Never stricter than the spec: such a value is checked
 * with its whitespace removed (it must then still be real base64, as the HL7 validator decodes
 * it) and stored as written.
 * @see https://hl7.org/fhir/R4/datatypes.html#base64Binary
 */
import { walkElements } from './walkElements.ts';

/** The R4 pattern (datatypes.html), anchored. */
export const R4_BASE64 = /^(\s*([0-9a-zA-Z+/=]){4}\s*)+$/;

/** The bytes of a base64Binary value as R4 allows it written (whitespace is not content). */
export function compactBase64(value: string): string {
  return value.replace(/\s+/g, '');
}

/**
 * The resource to give Medplum's validator: the same object when no base64Binary value has
 * whitespace (the usual case, no copy), else a copy whose R4-valid values have it removed.
 * Values that do not match the R4 pattern are left for the validator to refuse.
 */
export function withCompactBase64(resource: unknown): unknown {
  const locations = new Set<string>();
  walkElements(resource, ({ type, value, location }) => {
    if (type === 'base64Binary' && typeof value === 'string' && /\s/.test(value) && R4_BASE64.test(value))
      locations.add(location);
  });
  if (locations.size === 0) return resource;
  const root = (resource as { resourceType: string }).resourceType;
  return copyCompacting(resource, root, locations);
}

function copyCompacting(value: unknown, location: string, locations: ReadonlySet<string>): unknown {
  if (typeof value === 'string') return locations.has(location) ? compactBase64(value) : value;
  if (Array.isArray(value))
    return value.map((item, i) => copyCompacting(item, `${location}[${i}]`, locations));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [key, copyCompacting(item, `${location}.${key}`, locations)]),
  );
}
