/**
 * Where the shared test data lives: `../shared/data` relative to the repository, or
 * MEDLEDGER_SHARED_DATA. Tests fail with a clear message when it is absent (never skip).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export function sharedDataDir(sub: string): string {
  const root = process.env.MEDLEDGER_SHARED_DATA ?? resolve(import.meta.dirname, '../../../../shared/data');
  const dir = join(root, sub);
  if (!existsSync(dir)) {
    throw new Error(
      `shared test data not found at ${dir}: check out ../shared/data next to the repository or set MEDLEDGER_SHARED_DATA`,
    );
  }
  return dir;
}
