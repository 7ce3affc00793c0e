/**
 * `medledger start` as a child process for the exchange test: test/support/nodeProcess.ts with
 * a readiness deadline long enough for three nodes starting at once on a busy machine, and
 * optionally a fixed port.
 */

import { seedDataDir } from '../../src/store/testing/embeddedTemplate.ts';
import { type NodeProcess, startNodeProcess } from '../support/nodeProcess.ts';

export type MemberProcess = NodeProcess;

export async function startMemberProcess(
  dataDir: string,
  env: Record<string, string>,
  options: { port?: number; readyWithinMs?: number } = {},
): Promise<MemberProcess> {
  // A member's new embedded database starts from the run's migrated template.
  if (!env.DATABASE_URL) await seedDataDir(dataDir);
  return startNodeProcess(dataDir, env, options.readyWithinMs ?? 180_000, options.port);
}
