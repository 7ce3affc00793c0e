/**
 * `medledger start` on a checkout whose portal was never built (web/dist missing, e.g. installed
 * with --ignore-scripts): builds it with Vite in the background while the node already serves
 * the API; until it is done, /portal/ answers with a page saying so (serveWebApp). Builds at most
 * once per process; a failure is logged with the command to run by hand.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from '../config/logger.ts';
import { WEB_DIST_DIR } from './serveWebApp.ts';

const WEB_DIR = resolve(import.meta.dirname, '../../web');

let building: Promise<boolean> | undefined;

export function buildWebAppIfMissing(logger: Logger): Promise<boolean> {
  if (existsSync(join(WEB_DIST_DIR, 'index.html'))) return Promise.resolve(false);
  building ??= (async () => {
    if (!existsSync(join(WEB_DIR, 'vite.config.ts'))) {
      logger.warn('web portal: web/dist is missing and web/ is not in this installation');
      return false;
    }
    logger.info('web portal: web/dist is missing, building it (npm run build:web)…');
    try {
      const { build } = await import('vite');
      await build({ configFile: join(WEB_DIR, 'vite.config.ts'), logLevel: 'warn' });
      logger.info('web portal: built; open /portal/');
      return true;
    } catch (error) {
      logger.warn(`web portal: build failed (${(error as Error).message}); run npm run build:web`);
      return false;
    }
  })();
  return building;
}
