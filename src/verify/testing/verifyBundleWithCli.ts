/**
 * Test helper: saves an access report and checks it the way a patient or auditor would, with the
 * real CLI (`medledger verify --bundle FILE --rpc-url URL --json`) against the chain and no
 * database; returns the CLI's JSON report.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

export async function verifyBundleWithCli(bundle: unknown, rpcUrl: string): Promise<{ ok: boolean }> {
  const dir = await mkdtemp(join(tmpdir(), 'medledger-report-'));
  try {
    const file = join(dir, 'report.json');
    await writeFile(file, JSON.stringify(bundle));
    const { stdout } = await exec('node', [
      'bin/medledger.js',
      'verify',
      '--bundle',
      file,
      '--rpc-url',
      rpcUrl,
      '--json',
    ]);
    return JSON.parse(stdout) as { ok: boolean };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
