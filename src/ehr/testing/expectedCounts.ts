/**
 * Test helper: the distinct resources per type a set of Bundle files should leave stored, from
 * the files themselves: Organizations and Practitioners (and any ifNoneExist create) count
 * once per identity (`Type|system|value`), everything else once per entry.
 */
import { readFileSync } from 'node:fs';
import type { Bundle, Identifier } from '@medplum/fhirtypes';

export function expectedDistinctCounts(files: readonly string[]): Record<string, number> {
  const keyed = new Map<string, Set<string>>();
  const plain: Record<string, number> = {};
  for (const file of files) {
    const bundle = JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as Bundle;
    for (const entry of bundle.entry ?? []) {
      const resource = entry.resource;
      if (!resource) continue;
      const type = resource.resourceType;
      let key: string | undefined;
      const ifNoneExist = entry.request?.ifNoneExist;
      if (ifNoneExist?.startsWith('identifier=')) key = `${type}|${ifNoneExist.slice('identifier='.length)}`;
      else if (ifNoneExist) key = `${type}?${ifNoneExist}`;
      else if (type === 'Organization' || type === 'Practitioner') {
        const id = ((resource as { identifier?: Identifier[] }).identifier ?? []).find(
          (i) => i.system && i.value,
        );
        if (id) key = `${type}|${id.system}|${id.value}`;
      }
      if (key) {
        const set = keyed.get(type) ?? new Set<string>();
        set.add(key);
        keyed.set(type, set);
      } else plain[type] = (plain[type] ?? 0) + 1;
    }
  }
  const counts: Record<string, number> = { ...plain };
  for (const [type, set] of keyed) counts[type] = (counts[type] ?? 0) + set.size;
  return counts;
}
