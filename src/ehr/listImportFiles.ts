/**
 * The files an import reads, in a deterministic order: paths as given, directories walked
 * recursively in sorted order. Reference data (`hospitalInformation*`, `practitionerInformation*`,
 * as Synthea writes them) goes first, because other bundles' conditional references
 * (`Organization?identifier=...`) resolve only against what is already stored.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { ImportError } from './ImportError.ts';

const IMPORTABLE = /\.(json|ndjson|jsonl)$/i;
const REFERENCE_DATA = [/^hospitalInformation/i, /^practitionerInformation/i];

export async function listImportFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    const absolute = resolve(path);
    const info = await stat(absolute).catch(() => undefined);
    if (!info) throw new ImportError('ERR_IMPORT_PATH', `no such file or directory: ${absolute}`);
    if (info.isDirectory()) files.push(...(await walk(absolute)));
    else files.push(absolute);
  }
  const unique = [...new Set(files)];
  const rank = (file: string) => {
    const i = REFERENCE_DATA.findIndex((pattern) => pattern.test(basename(file)));
    return i === -1 ? REFERENCE_DATA.length : i;
  };
  // Stable: within a rank, the order the paths were given and walked in.
  return unique
    .map((file, i) => ({ file, i, rank: rank(file) }))
    .sort((a, b) => a.rank - b.rank || a.i - b.i)
    .map((x) => x.file);
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const files: string[] = [];
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    const info = entry.isSymbolicLink() ? await stat(path).catch(() => undefined) : entry;
    if (info?.isDirectory()) files.push(...(await walk(path)));
    else if (info?.isFile() && IMPORTABLE.test(entry.name)) files.push(path);
  }
  return files;
}
