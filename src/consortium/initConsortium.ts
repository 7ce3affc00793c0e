/**
 * `medledger consortium init`: everything N institutions need to run a permissioned
 * Besu QBFT network with one validator each, and a medledger node on it. Private keys
 * are written only into their member's own folder (mode 0600) and never returned.
 *
 *   OUT/consortium.json          public summary (addresses, enodes, endpoints)
 *   OUT/genesis.json, static-nodes.json, DEPLOY.md
 *   OUT/members/<n>-<slug>/      handed to member n, and only to it
 *     besu/{key, config.toml, genesis.json, permissions_config.toml, data/static-nodes.json}
 *     medledger/keys/{node-signing.key, node-encryption.key}   (its medledger data dir)
 *     medledger.env
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors/MedledgerError.ts';
import { buildBesuGenesis, DEFAULT_QBFT_TIMING, type QbftTiming } from './besuGenesis.ts';
import type { ConsortiumSummary } from './ConsortiumSummary.ts';
import { deploymentSteps } from './deploymentSteps.ts';
import { type ConsortiumMember, createMemberFolder, writeMemberConfig } from './memberFolder.ts';

export type { ConsortiumMember } from './memberFolder.ts';

/** 1,000,000 ether per member account: gas is free, the balance only satisfies nodes that check it. */
export const DEFAULT_MEMBER_FUNDING = 10n ** 24n;

export interface InitConsortiumParameters {
  members: number;
  outDir: string;
  /** Institution names, one per member; default "Member 1".."Member N". */
  names?: readonly string[];
  /** Default: a random id, so two consortia never share one (transactions replay only within a chain id). */
  chainId?: number;
  /** Host of member n's machine; `{n}` is replaced by n, `{slug}` by its folder slug. Default 127.0.0.1. */
  hostTemplate?: string;
  timing?: QbftTiming;
  fundingWei?: bigint;
}

export async function initConsortium(parameters: InitConsortiumParameters): Promise<ConsortiumSummary> {
  const count = parameters.members;
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new ConfigError('--members must be an integer between 1 and 64');
  }
  const names = parameters.names ?? Array.from({ length: count }, (_, i) => `Member ${i + 1}`);
  if (names.length !== count)
    throw new ConfigError(`--names lists ${names.length} names for ${count} members`);
  if (names.some((n) => n.trim() === '')) throw new ConfigError('--names has an empty name');
  const chainId = parameters.chainId ?? 100_000 + Math.floor(Math.random() * 2_000_000_000);
  if (!Number.isSafeInteger(chainId) || chainId < 1)
    throw new ConfigError('--chain-id must be a positive integer');
  const outDir = resolve(parameters.outDir);
  await ensureEmptyDirectory(outDir);
  const timing = parameters.timing ?? DEFAULT_QBFT_TIMING;
  const hostTemplate = parameters.hostTemplate ?? '127.0.0.1';

  const members: ConsortiumMember[] = [];
  for (const [i, name] of names.entries()) {
    members.push(await createMemberFolder({ outDir, index: i + 1, name, hostTemplate }));
  }

  const genesis = buildBesuGenesis({
    chainId,
    validators: members.map((m) => m.validator.address),
    alloc: members.map((m) => ({
      address: m.medledger.address,
      balance: parameters.fundingWei ?? DEFAULT_MEMBER_FUNDING,
    })),
    timing,
  });
  const genesisJson = `${JSON.stringify(genesis, null, 2)}\n`;
  const enodes = members.map((m) => m.validator.enode);
  const summary: ConsortiumSummary = { chainId, consensus: 'qbft', outDir, deployer: 1, timing, members };
  for (const m of members) await writeMemberConfig(outDir, m, genesisJson, enodes);
  await writeFile(join(outDir, 'genesis.json'), genesisJson, { mode: 0o644 });
  await writeFile(join(outDir, 'static-nodes.json'), `${JSON.stringify(enodes, null, 2)}\n`, { mode: 0o644 });
  await writeFile(join(outDir, 'consortium.json'), `${JSON.stringify(summary, null, 2)}\n`, { mode: 0o644 });
  await writeFile(join(outDir, 'DEPLOY.md'), deploymentSteps(summary), { mode: 0o644 });
  return summary;
}

export async function ensureEmptyDirectory(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0) {
    throw new ConfigError(`${dir} is not empty: consortium init never overwrites keys; choose a new --out`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
}
