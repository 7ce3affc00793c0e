/**
 * The vault is the one door to stored record versions: outside `src/vault/` (and the verifier in
 * `src/verify/`, which keeps its own SQL on purpose as the independent auditor) no source file
 * selects from `record_versions` or uses the vault's row shape or its verification directly.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..');
const PATTERN = /record_versions|storedVersionRow|verifyRecordVersion/;

async function sources(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts') && !entry.name.includes('.test.') && !path.includes('/testing/'))
      found.push(path);
  }
  return found;
}

describe('one door to record versions', () => {
  it('no source outside src/vault and src/verify reads record_versions or verifies versions itself', async () => {
    const offenders: string[] = [];
    for (const file of await sources(SRC)) {
      const name = relative(SRC, file);
      if (name.startsWith('vault/') || name.startsWith('verify/')) continue;
      const lines = (await readFile(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        if (PATTERN.test(line)) offenders.push(`src/${name}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });
});
