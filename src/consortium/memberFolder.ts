/**
 * One member's folder of a consortium: its keys (created here, mode 0600, never
 * returned) and its Besu and medledger configuration. Used by `consortium init` for
 * the founding members and by `consortium add-member` for an institution joining later.
 */
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Address, Hex } from 'viem';
import { generatePrivateKey } from 'viem/accounts';
import { loadNodeIdentity } from '../chain/nodeIdentity.ts';
import { besuConfigToml, permissionsToml } from './besuConfig.ts';
import { besuNodeKey, enodeUrl } from './enode.ts';
import { MEMBER_TLS_CERT, MEMBER_TLS_KEY, type MemberTls, writeMemberTls } from './memberTls.ts';

export const BASE_P2P_PORT = 30303;
export const BASE_RPC_PORT = 8545;
export const BASE_MEDLEDGER_PORT = 8080;

export interface ConsortiumMember {
  index: number;
  name: string;
  /** Folder under OUT/members/. */
  folder: string;
  host: string;
  /**
   * The member's Besu node. `validating`: named a QBFT validator in the genesis (false for members
   * beyond `--validators` and for members added later, until the validators vote them in).
   */
  validator: {
    address: Address;
    enode: string;
    p2pPort: number;
    rpcPort: number;
    validating: boolean;
  };
  /** `endpoint` is https with the operator's certificate, http only with --insecure-http. */
  medledger: { address: Address; encryptionKey: Hex; endpoint: string; port: number; rpcUrl: string };
}

export interface CreateMemberFolderParameters {
  outDir: string;
  /** 1-based; ports are offset by it so a whole network can be tried on one machine. */
  index: number;
  name: string;
  /** Host of the member's machine; `{n}` is replaced by the index, `{slug}` by the folder name. */
  hostTemplate: string;
  /** Whether its Besu node is a genesis validator. */
  validating: boolean;
  /** The checked certificate and key of its medledger endpoint (readMemberTls); undefined: plain http. */
  tls: MemberTls | undefined;
}

/** Member n's folder name and host (`{n}` and `{slug}` of the host template replaced). */
export function memberPlacement(index: number, name: string, hostTemplate: string) {
  const folder = `${index}-${slugify(name)}`;
  return { index, folder, host: hostTemplate.replaceAll('{n}', String(index)).replaceAll('{slug}', folder) };
}

/** Creates `OUT/members/<n>-<slug>/` with the member's Besu node key, medledger keys and TLS files. */
export async function createMemberFolder(p: CreateMemberFolderParameters): Promise<ConsortiumMember> {
  const { folder, host } = memberPlacement(p.index, p.name, p.hostTemplate);
  const memberDir = join(p.outDir, 'members', folder);
  await mkdir(join(memberDir, 'besu', 'data'), { recursive: true, mode: 0o700 });
  await chmod(memberDir, 0o700);
  const besuKey = generatePrivateKey();
  // Besu reads the key file as hex; it writes it with a 0x prefix and no newline itself. 'wx': never overwrite.
  await writeFile(join(memberDir, 'besu', 'key'), besuKey, { mode: 0o600, flag: 'wx' });
  const node = besuNodeKey(besuKey);
  // The medledger node's own keys, created exactly as `medledger start` would in this data dir.
  const identity = await loadNodeIdentity(join(memberDir, 'medledger'));
  if (p.tls) await writeMemberTls(memberDir, p.tls);
  const scheme = p.tls ? 'https' : 'http';
  const offset = p.index - 1;
  const rpcPort = BASE_RPC_PORT + offset;
  const port = BASE_MEDLEDGER_PORT + offset;
  return {
    index: p.index,
    name: p.name,
    folder,
    host,
    validator: {
      address: node.address,
      enode: enodeUrl(node.enodeId, host, BASE_P2P_PORT + offset),
      p2pPort: BASE_P2P_PORT + offset,
      rpcPort,
      validating: p.validating,
    },
    medledger: {
      address: identity.account.address,
      encryptionKey: identity.encryptionPublicKey,
      endpoint: `${scheme}://${host}:${port}`,
      port,
      rpcUrl: `http://127.0.0.1:${rpcPort}`,
    },
  };
}

/** Writes the member's Besu files (genesis, static nodes, allowlist, config.toml) and medledger.env. */
export async function writeMemberConfig(
  outDir: string,
  member: ConsortiumMember,
  genesisJson: string,
  enodes: readonly string[],
): Promise<void> {
  const memberDir = join(outDir, 'members', member.folder);
  const besuDir = join(memberDir, 'besu');
  await writeFile(join(besuDir, 'genesis.json'), genesisJson, { mode: 0o644 });
  await writeFile(join(besuDir, 'data', 'static-nodes.json'), `${JSON.stringify(enodes, null, 2)}\n`, {
    mode: 0o644,
  });
  await writeFile(join(besuDir, 'permissions_config.toml'), permissionsToml(enodes), { mode: 0o644 });
  await writeFile(
    join(besuDir, 'config.toml'),
    besuConfigToml({
      memberName: member.name,
      p2pHost: member.host,
      p2pPort: member.validator.p2pPort,
      rpcPort: member.validator.rpcPort,
      bootnodes: enodes.filter((e) => e !== member.validator.enode),
    }),
    { mode: 0o644 },
  );
  await writeFile(join(memberDir, 'medledger.env'), medledgerEnv(member), { mode: 0o644 });
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
    // Off loopback, other members must reach the API.
    `HOST=${loopback ? '127.0.0.1' : '0.0.0.0'}`,
    ...(m.medledger.endpoint.startsWith('https:')
      ? [
          "# TLS for the endpoint the Registry publishes (the certificate names this member's host)",
          `MEDLEDGER_TLS_CERT=${shellQuote(`./${MEMBER_TLS_CERT}`)}`,
          `MEDLEDGER_TLS_KEY=${shellQuote(`./${MEMBER_TLS_KEY}`)}`,
        ]
      : ['# Plain http (consortium init --insecure-http): for development only, never with patient data']),
    '# PostgreSQL server (recommended in production); unset = PGlite in the data directory',
    '# DATABASE_URL=postgres://medledger@db.internal:5432/medledger',
  ];
  return `${lines.join('\n')}\n`;
}

export function shellQuote(value: string): string {
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
