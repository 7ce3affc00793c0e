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
import { chmod, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Address, Hex } from 'viem';
import { generatePrivateKey } from 'viem/accounts';
import { loadNodeIdentity } from '../chain/nodeIdentity.ts';
import { ConfigError } from '../errors/MedledgerError.ts';
import { besuConfigToml, permissionsToml } from './besuConfig.ts';
import { buildBesuGenesis, DEFAULT_QBFT_TIMING, type QbftTiming } from './besuGenesis.ts';
import { deploymentSteps } from './deploymentSteps.ts';
import { besuNodeKey, enodeUrl } from './enode.ts';

export const BASE_P2P_PORT = 30303;
export const BASE_RPC_PORT = 8545;
export const BASE_MEDLEDGER_PORT = 8080;
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

export interface ConsortiumMember {
  index: number;
  name: string;
  /** Folder under OUT/members/. */
  folder: string;
  host: string;
  validator: { address: Address; enode: string; p2pPort: number; rpcPort: number };
  medledger: { address: Address; encryptionKey: Hex; endpoint: string; port: number; rpcUrl: string };
}

export interface ConsortiumSummary {
  chainId: number;
  consensus: 'qbft';
  outDir: string;
  /** The member that deploys the contracts (`medledger chain deploy`) and is their first Registry member. */
  deployer: number;
  timing: QbftTiming;
  members: ConsortiumMember[];
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
  const slugs = names.map((n, i) => `${i + 1}-${slugify(n)}`);
  const chainId = parameters.chainId ?? 100_000 + Math.floor(Math.random() * 2_000_000_000);
  if (!Number.isSafeInteger(chainId) || chainId < 1)
    throw new ConfigError('--chain-id must be a positive integer');
  const outDir = resolve(parameters.outDir);
  await ensureEmptyDirectory(outDir);
  const timing = parameters.timing ?? DEFAULT_QBFT_TIMING;
  const hostTemplate = parameters.hostTemplate ?? '127.0.0.1';

  const members: ConsortiumMember[] = [];
  const besuKeys: Hex[] = [];
  for (let i = 0; i < count; i++) {
    const folder = slugs[i] as string;
    const host = hostTemplate.replaceAll('{n}', String(i + 1)).replaceAll('{slug}', folder);
    const memberDir = join(outDir, 'members', folder);
    await mkdir(join(memberDir, 'besu', 'data'), { recursive: true, mode: 0o700 });
    await chmod(memberDir, 0o700);
    const besuKey = generatePrivateKey();
    besuKeys.push(besuKey);
    // Besu reads the key file as hex; it writes it with a 0x prefix and no newline itself.
    await writeFile(join(memberDir, 'besu', 'key'), besuKey, { mode: 0o600, flag: 'wx' });
    const node = besuNodeKey(besuKey);
    // The medledger node's own keys, created exactly as `medledger start` would in this data dir.
    const identity = await loadNodeIdentity(join(memberDir, 'medledger'));
    const p2pPort = BASE_P2P_PORT + i;
    const rpcPort = BASE_RPC_PORT + i;
    const port = BASE_MEDLEDGER_PORT + i;
    members.push({
      index: i + 1,
      name: names[i] as string,
      folder,
      host,
      validator: { address: node.address, enode: enodeUrl(node.enodeId, host, p2pPort), p2pPort, rpcPort },
      medledger: {
        address: identity.account.address,
        encryptionKey: identity.encryptionPublicKey,
        endpoint: `http://${host}:${port}`,
        port,
        rpcUrl: `http://127.0.0.1:${rpcPort}`,
      },
    });
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
  const staticNodes = `${JSON.stringify(enodes, null, 2)}\n`;
  const summary: ConsortiumSummary = { chainId, consensus: 'qbft', outDir, deployer: 1, timing, members };

  for (const m of members) {
    const memberDir = join(outDir, 'members', m.folder);
    const besuDir = join(memberDir, 'besu');
    await writeFile(join(besuDir, 'genesis.json'), genesisJson, { mode: 0o644 });
    await writeFile(join(besuDir, 'data', 'static-nodes.json'), staticNodes, { mode: 0o644 });
    await writeFile(join(besuDir, 'permissions_config.toml'), permissionsToml(enodes), { mode: 0o644 });
    await writeFile(
      join(besuDir, 'config.toml'),
      besuConfigToml({
        memberName: m.name,
        p2pHost: m.host,
        p2pPort: m.validator.p2pPort,
        rpcPort: m.validator.rpcPort,
        bootnodes: enodes.filter((e) => e !== m.validator.enode),
      }),
      { mode: 0o644 },
    );
    await writeFile(join(memberDir, 'medledger.env'), medledgerEnv(m), { mode: 0o644 });
  }
  await writeFile(join(outDir, 'genesis.json'), genesisJson, { mode: 0o644 });
  await writeFile(join(outDir, 'static-nodes.json'), staticNodes, { mode: 0o644 });
  await writeFile(join(outDir, 'consortium.json'), `${JSON.stringify(summary, null, 2)}\n`, { mode: 0o644 });
  await writeFile(join(outDir, 'DEPLOY.md'), deploymentSteps(summary), { mode: 0o644 });
  return summary;
}

/** Environment of the member's medledger node in server mode; `set -a; . ./medledger.env` in its folder. */
function medledgerEnv(m: ConsortiumMember): string {
  const loopback = m.host === '127.0.0.1' || m.host === 'localhost';
  const lines = [
    `# medledger node of ${m.name.replace(/\n/g, ' ')}: server mode against this member's own Besu`,
    `MEDLEDGER_DATA_DIR=${shellQuote('./medledger')}`,
    `MEDLEDGER_RPC_URL=${shellQuote(m.medledger.rpcUrl)}`,
    `MEDLEDGER_NAME=${shellQuote(m.name)}`,
    `MEDLEDGER_PUBLIC_URL=${shellQuote(m.medledger.endpoint)}`,
    `PORT=${m.medledger.port}`,
    // Off loopback, other members must reach the API (put TLS in front of it).
    `HOST=${loopback ? '127.0.0.1' : '0.0.0.0'}`,
    '# PostgreSQL server (recommended in production); unset = PGlite in the data directory',
    '# DATABASE_URL=postgres://medledger@db.internal:5432/medledger',
  ];
  return `${lines.join('\n')}\n`;
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

function slugify(name: string): string {
  const slug = name
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'member';
}

async function ensureEmptyDirectory(dir: string): Promise<void> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (entries.length > 0) {
    throw new ConfigError(`${dir} is not empty: consortium init never overwrites keys; choose a new --out`);
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
}
