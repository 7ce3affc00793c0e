/**
 * `medledger verify` run from the portal (the privacy officer's button): the same
 * verifyDatabase as the CLI, with the keys, one run at a time. The latest result is kept in
 * `<data-dir>/portal/latest-verify.json` (counts and findings: row references, no content), so
 * it survives a restart and every node process on the data directory shows the same one.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { NodeContext } from '../context/NodeContext.ts';
import { verifyNode } from '../verify/verifyNode.ts';
import type { LatestVerify } from './PortalApi.ts';

const fileOf = (dataDir: string) => join(dataDir, 'portal', 'latest-verify.json');

export async function readLatestVerify(dataDir: string): Promise<LatestVerify | undefined> {
  const text = await readFile(fileOf(dataDir), 'utf8').catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as LatestVerify);
}

let running: Promise<LatestVerify> | undefined;

/** Runs verify (or joins the run in progress) and stores its result. */
export function runVerify(ctx: NodeContext, by: string): Promise<LatestVerify> {
  running ??= (async () => {
    try {
      const report = await verifyNode(ctx);
      const result: LatestVerify = { at: new Date().toISOString(), by, report };
      const file = fileOf(ctx.config.dataDir);
      await mkdir(join(ctx.config.dataDir, 'portal'), { recursive: true, mode: 0o700 });
      await writeFile(`${file}.tmp`, JSON.stringify(result), { mode: 0o600 });
      await rename(`${file}.tmp`, file);
      return result;
    } finally {
      running = undefined;
    }
  })();
  return running;
}
