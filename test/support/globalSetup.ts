/**
 * vitest global set-up: builds the run's embedded-database template once (every new PGlite
 * database of the run starts from it: src/store/testing/embeddedTemplate.ts) and removes it after.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmbeddedTemplate, EMBEDDED_TEMPLATE_ENV } from '../../src/store/testing/embeddedTemplate.ts';

export default async function setup(): Promise<() => Promise<void>> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-template-'));
  const path = join(dir, 'pglite.tar.gz');
  await buildEmbeddedTemplate(path);
  process.env[EMBEDDED_TEMPLATE_ENV] = path;
  return () => rm(dir, { recursive: true, force: true });
}
