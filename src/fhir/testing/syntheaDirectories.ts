/**
 * Synthea's shared directory bundles (`hospitalInformation*.json`, `practitionerInformation*.json`,
 * about 4,764 entries) cut to what some patients' bundles need: tests that import a few patients
 * write these copies and import them first, instead of the whole directory.
 */
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sharedDataDir } from './sharedData.ts';

interface SharedEntry {
  resource: {
    resourceType: string;
    identifier?: { system?: string; value?: string }[];
    practitioner?: { identifier?: { system?: string; value?: string } };
  };
}
interface SharedBundle {
  entry: SharedEntry[];
}

/**
 * Writes into `dir` a copy of each shared directory bundle holding only the entries the patients'
 * bundles (paths) name, and returns the copies' paths, in the order to import them.
 */
export async function writeReferencedDirectories(
  patientBundles: readonly string[],
  dir: string,
): Promise<string[]> {
  const synthea = sharedDataDir('synthea');
  const shared = (await readdir(synthea))
    .filter((f) => /^(hospital|practitioner)Information\d+\.json$/.test(f))
    .sort();
  const texts = await Promise.all(patientBundles.map((f) => readFile(f, 'utf8')));
  const bundles = await Promise.all(
    shared.map(async (f) => JSON.parse(await readFile(join(synthea, f), 'utf8')) as SharedBundle),
  );
  const named = referencedEntries(texts, bundles);
  const files = shared.map((f) => join(dir, f));
  for (const [i, file] of files.entries())
    await writeFile(
      file,
      JSON.stringify({ ...bundles[i], entry: bundles[i]!.entry.filter((e) => named.has(e)) }),
    );
  return files;
}

/**
 * The entries of Synthea's shared directory bundles that the patients' bundles name by
 * conditional reference (`Organization?identifier=system|value`), and what those name in turn,
 * plus each named practitioner's roles: what the import of the patients needs to resolve.
 */
function referencedEntries(
  patientTexts: readonly string[],
  bundles: readonly SharedBundle[],
): Set<SharedEntry> {
  const REFERENCE = /"reference":\s*"([A-Za-z]+\?identifier=[^"]+)"/g;
  const IDENTIFIER = /"identifier":\s*\{\s*"system":\s*"([^"]+)",\s*"value":\s*"([^"]+)"/g;
  const wanted = new Set<string>();
  for (const text of patientTexts) for (const m of text.matchAll(REFERENCE)) wanted.add(m[1]!);
  const entries = bundles.flatMap((b) => b.entry);
  const keys = (e: SharedEntry) =>
    (e.resource.identifier ?? []).map((i) => `${e.resource.resourceType}?identifier=${i.system}|${i.value}`);
  const kept = new Set<SharedEntry>();
  for (let grew = true; grew; ) {
    grew = false;
    for (const e of entries) {
      if (kept.has(e) || !keys(e).some((k) => wanted.has(k))) continue;
      kept.add(e);
      grew = true;
      // What a kept entry names by identifier (a location's organization) is needed too.
      for (const m of JSON.stringify(e.resource).matchAll(IDENTIFIER)) {
        wanted.add(`Organization?identifier=${m[1]}|${m[2]}`);
        wanted.add(`Practitioner?identifier=${m[1]}|${m[2]}`);
      }
    }
  }
  for (const e of entries) {
    const p = e.resource.practitioner?.identifier;
    if (
      e.resource.resourceType === 'PractitionerRole' &&
      p &&
      wanted.has(`Practitioner?identifier=${p.system}|${p.value}`)
    )
      kept.add(e);
  }
  return kept;
}
