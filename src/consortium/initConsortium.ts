/**
 * `medledger consortium init`: everything N institutions need to run a permissioned
 * Besu QBFT network, one Besu node each (the first V of them validators, every one by
 * default), and a medledger node on it with TLS on the endpoint the Registry publishes.
 * Private keys are written only into their member's own folder (mode 0600) and never returned.
 *
 *   OUT/consortium.json          public summary (addresses, enodes, endpoints)
 *   OUT/genesis.json, static-nodes.json, DEPLOY.md
 *   OUT/members/<n>-<slug>/      handed to member n, and only to it
 *     besu/{key, config.toml, genesis.json, permissions_config.toml, data/static-nodes.json}
 *     medledger/keys/{node-signing.key, node-encryption.key}   (its medledger data dir)
 *     medledger/tls/{cert.pem, key.pem}                        (the operator's, checked)
 *     medledger.env
 */
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ConfigError } from '../errors/MedledgerError.ts';
import { buildBesuGenesis, DEFAULT_QBFT_TIMING, type QbftTiming } from './besuGenesis.ts';
import type { ConsortiumSummary } from './ConsortiumSummary.ts';
import { deploymentSteps } from './deploymentSteps.ts';
import {
  type ConsortiumMember,
  createMemberFolder,
  memberPlacement,
  writeMemberConfig,
} from './memberFolder.ts';
import { type EndpointSecurity, readMembersTls } from './memberTls.ts';

export type { ConsortiumMember } from './memberFolder.ts';

/** 1,000,000 ether per member account: gas is free, the balance only satisfies nodes that check it. */
export const DEFAULT_MEMBER_FUNDING = 10n ** 24n;

/** Members, and so validators, when `--members` is not given: the fewest QBFT validators that tolerate a faulty one. */
export const DEFAULT_MEMBERS = 4;

export interface InitConsortiumParameters {
  /** Founding institutions, one Besu node each. Default DEFAULT_MEMBERS. */
  members?: number;
  /**
   * How many of the members (the first ones) run a QBFT validator; the others run a
   * non-validating Besu node. Default: every member.
   */
  validators?: number;
  /** TLS certificates for the member endpoints, or plain http for development (explicitly). */
  security: EndpointSecurity;
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
  const count = parameters.members ?? DEFAULT_MEMBERS;
  if (!Number.isInteger(count) || count < 1 || count > 64) {
    throw new ConfigError('--members must be an integer between 1 and 64');
  }
  const names = parameters.names ?? Array.from({ length: count }, (_, i) => `Member ${i + 1}`);
  if (names.length !== count)
    throw new ConfigError(`--names lists ${names.length} names for ${count} members`);
  if (names.some((n) => n.trim() === '')) throw new ConfigError('--names has an empty name');
  const validators = parameters.validators ?? count;
  if (!Number.isInteger(validators) || validators < 1 || validators > count) {
    throw new ConfigError(`--validators must be an integer between 1 and the ${count} members`);
  }
  const chainId = parameters.chainId ?? 100_000 + Math.floor(Math.random() * 2_000_000_000);
  if (!Number.isSafeInteger(chainId) || chainId < 1)
    throw new ConfigError('--chain-id must be a positive integer');
  const outDir = resolve(parameters.outDir);
  await assertEmptyDirectory(outDir);
  const timing = parameters.timing ?? DEFAULT_QBFT_TIMING;
  const hostTemplate = parameters.hostTemplate ?? '127.0.0.1';

  // Every certificate is checked before the first file is written.
  const placements = names.map((name, i) => memberPlacement(i + 1, name, hostTemplate));
  const tls = await readMembersTls(parameters.security, placements);
  await ensureEmptyDirectory(outDir);

  const members: ConsortiumMember[] = [];
  for (const [i, name] of names.entries()) {
    members.push(
      await createMemberFolder({
        outDir,
        index: i + 1,
        name,
        hostTemplate,
        validating: i < validators,
        tls: tls[i],
      }),
    );
  }

  const genesis = buildBesuGenesis({
    chainId,
    validators: members.filter((m) => m.validator.validating).map((m) => m.validator.address),
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

/** Refuses a directory that exists and is not empty (keys are never overwritten). */
export async function assertEmptyDirectory(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0) {
    throw new ConfigError(`${dir} is not empty: consortium init never overwrites keys; choose a new --out`);
  }
}

export async function ensureEmptyDirectory(dir: string): Promise<void> {
  await assertEmptyDirectory(dir);
  await mkdir(dir, { recursive: true, mode: 0o700 });
}
