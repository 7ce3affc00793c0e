/**
 * Canonical JSON (RFC 8785, JSON Canonicalization Scheme) as UTF-8 bytes: the form a
 * record's commitment is computed over, so the same resource always hashes the same.
 * @see https://www.rfc-editor.org/rfc/rfc8785
 */
import canonicalize from 'canonicalize';

export function canonicalJsonBytes(value: unknown): Buffer {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no JSON form');
  return Buffer.from(text, 'utf8');
}
