/**
 * Canonical JSON of a resource for round-trip comparison: without `id`, `meta` and the chain
 * address identifier medledger adds to a Patient (urn:medledger:address).
 */
import canonicalize from 'canonicalize';
import { ADDRESS_SYSTEM } from '../patientCompartment.ts';

export function canonicalJson(resource: unknown): string {
  const copy = structuredClone(resource) as Record<string, unknown>;
  delete copy.id;
  delete copy.meta;
  if (copy.resourceType === 'Patient' && Array.isArray(copy.identifier)) {
    const kept = (copy.identifier as { system?: string }[]).filter((i) => i.system !== ADDRESS_SYSTEM);
    if (kept.length) copy.identifier = kept;
    else delete copy.identifier;
  }
  return (canonicalize as unknown as (v: unknown) => string)(copy);
}
