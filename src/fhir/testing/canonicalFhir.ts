/**
 * Canonical JSON of a resource for round-trip comparison: without `id` and `meta`, and (unless
 * `exact`) without the chain address identifier an import gives a Patient (urn:medledger:address,
 * the key the patient's claim code later replaces).
 */
import canonicalize from 'canonicalize';
import { ADDRESS_SYSTEM } from '../patientCompartment.ts';

export function canonicalJson(resource: unknown, options: { exact?: boolean } = {}): string {
  const copy = structuredClone(resource) as Record<string, unknown>;
  delete copy.id;
  delete copy.meta;
  if (!options.exact && copy.resourceType === 'Patient' && Array.isArray(copy.identifier)) {
    const kept = (copy.identifier as { system?: string }[]).filter((i) => i.system !== ADDRESS_SYSTEM);
    if (kept.length) copy.identifier = kept;
    else delete copy.identifier;
  }
  return (canonicalize as unknown as (v: unknown) => string)(copy);
}
