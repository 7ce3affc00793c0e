/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme) as UTF-8 bytes: the form a
 * record's commitment is computed over, so the same resource always hashes the same.
 *
 * The `canonicalize` package is the reference. For plain JSON data (what FHIR resources and
 * audit events are) the same text comes from copying the value with its keys sorted by UTF-16
 * code units and letting the engine's `JSON.stringify` write it: RFC 8785 defines its string
 * and number forms as ECMAScript's own. That is about 2.5 times faster (17 µs instead of 42 µs
 * for an audit event), and it runs on every record write and audit append. Whatever the copy
 * does not treat as plain JSON (a `toJSON` method such as a Date's, a number that is not finite,
 * a string with a lone surrogate, a key an engine would not keep in order, a cycle) goes to `canonicalize`, which converts or rejects
 * it. The property test in canonicalJson.test.ts holds the two to the same output.
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
import canonicalize from 'canonicalize';

export function canonicalJsonBytes(value: unknown): Buffer {
  return Buffer.from(canonicalJsonText(value), 'utf8');
}

export function canonicalJsonText(value: unknown): string {
  const copy = sortedCopy(value, 0);
  const text = copy === NOT_PLAIN ? canonicalize(value) : JSON.stringify(copy);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return text;
}

const NOT_PLAIN = Symbol('not plain JSON');
/** Deeper than this is treated as a cycle and left to `canonicalize` (which detects real ones). */
const MAX_DEPTH = 500;

/** No lone surrogates (String.prototype.isWellFormed, Node 20; TypeScript's ES2022 lib lacks it). */
const wellFormed = (text: string) => (text as string & { isWellFormed(): boolean }).isWellFormed();

/** `value` with every object's keys in sorted order, or NOT_PLAIN. */
function sortedCopy(value: unknown, depth: number): unknown {
  switch (typeof value) {
    case 'string':
      return wellFormed(value) ? value : NOT_PLAIN;
    case 'number':
      return Number.isFinite(value) ? value : NOT_PLAIN;
    case 'boolean':
      return value;
    case 'object':
      break;
    default:
      return NOT_PLAIN;
  }
  if (value === null) return null;
  if (depth > MAX_DEPTH || typeof (value as { toJSON?: unknown }).toJSON === 'function') return NOT_PLAIN;
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item = sortedCopy(value[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      out[i] = item;
    }
    return out;
  }
  // No prototype: a "__proto__" key (JSON.parse makes it an own property) stays a plain key.
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value).sort()) {
    // An engine lists integer-like keys ("0", "12") first whatever their order: leave those out.
    const first = key.charCodeAt(0);
    if ((first >= 48 && first <= 57) || !wellFormed(key)) return NOT_PLAIN;
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue; // JSON has no undefined: the key is left out, as JSON.stringify does
    const copy = sortedCopy(item, depth + 1);
    if (copy === NOT_PLAIN) return NOT_PLAIN;
    out[key] = copy;
  }
  return out;
}
