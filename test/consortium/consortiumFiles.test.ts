/**
 * What `consortium init` writes, checked without Besu (which cannot be installed here):
 * the genesis parses and its QBFT extraData names exactly the generated validator keys,
 * enode URLs derive from those keys, the configs parse, and private keys stay in their
 * member's own folder with mode 0600.
 */
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { getAddress, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNodeIdentity } from '../../src/chain/nodeIdentity.ts';
import { addConsortiumMember } from '../../src/consortium/addConsortiumMember.ts';
import { type BesuGenesis, BFT_MIX_HASH } from '../../src/consortium/besuGenesis.ts';
import type { ConsortiumSummary } from '../../src/consortium/ConsortiumSummary.ts';
import { besuNodeKey } from '../../src/consortium/enode.ts';
import { initConsortium } from '../../src/consortium/initConsortium.ts';
import { decodeQbftExtraData, encodeQbftExtraData } from '../../src/consortium/qbftExtraData.ts';

/** The known encoding in Besu's QbftExtraDataCodecTest: vanity 0x01..0x20, validators 1 and 2, an add vote, round 0xfedcba, two seals. */
const BESU_VECTOR =
  ('0xf8f0a00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20ea940000000000000000' +
    '000000000000000000000001940000000000000000000000000000000000000002d7940000000000000000' +
    '00000000000000000000000181ff83fedcbaf886b841000000000000000000000000000000000000000000' +
    '0000000000000000000001000000000000000000000000000000000000000000000000000000000000000a' +
    '00b841000000000000000000000000000000000000000000000000000000000000000a0000000000000000' +
    '00000000000000000000000000000000000000000000000100') as Hex;

/** Reads our flat TOML (key=JSON value per line, # comments) strictly: any other line fails. */
function parseFlatToml(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([A-Za-z][A-Za-z0-9-]*)=(.+)$/.exec(line);
    if (!match) throw new Error(`not a TOML key/value line: ${line}`);
    out[match[1] as string] = JSON.parse(match[2] as string);
  }
  return out;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

describe('consortium init output', () => {
  let outDir = '';
  let summary: ConsortiumSummary;
  let genesis: BesuGenesis;

  beforeAll(async () => {
    outDir = join(await mkdtemp(join(tmpdir(), 'medledger-consortium-files-')), 'net');
    summary = await initConsortium({
      members: 4,
      outDir,
      names: ['Hospital A', 'Clinic B', "St. Mary's Lab", 'Hospital A East'],
      chainId: 2024_11,
      hostTemplate: '10.0.0.{n}',
    });
    genesis = JSON.parse(await readFile(join(outDir, 'genesis.json'), 'utf8')) as BesuGenesis;
  });
  afterAll(async () => {
    await rm(join(outDir, '..'), { recursive: true, force: true });
  });

  it('decodes the QBFT extraData vector from Besu’s own codec test', () => {
    const decoded = decodeQbftExtraData(BESU_VECTOR);
    expect(decoded.vanity).toBe('0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20');
    expect(decoded.validators).toEqual([
      '0x0000000000000000000000000000000000000001',
      '0x0000000000000000000000000000000000000002',
    ]);
    expect(decoded.vote).toEqual(['0x0000000000000000000000000000000000000001', '0xff']);
    expect(decoded.round).toBe(0xfedcba);
    expect(decoded.seals).toHaveLength(2);
  });

  it('encodes genesis extraData as vanity, validators, no vote, round 0, no seals', () => {
    const extra = encodeQbftExtraData(['0x0000000000000000000000000000000000000001']);
    // f8 list; a0 + 32 zero bytes; d5 94 + address; c0 (no vote); 80 (round 0); c0 (no seals)
    expect(extra).toBe(`0xf83aa0${'00'.repeat(32)}d5940000000000000000000000000000000000000001c080c0`);
  });

  it('writes a Besu QBFT genesis with a free-gas fee market', () => {
    expect(genesis.config).toMatchObject({
      chainId: 2024_11,
      londonBlock: 0,
      zeroBaseFee: true,
      qbft: { blockperiodseconds: 2, epochlength: 30000, requesttimeoutseconds: 4 },
    });
    expect(genesis.baseFeePerGas).toBe('0x0');
    expect(genesis.mixHash).toBe(BFT_MIX_HASH);
    expect(BigInt(genesis.gasLimit)).toBeGreaterThanOrEqual(30_000_000n);
  });

  it('names exactly the generated node keys as validators, in member order', async () => {
    const decoded = decodeQbftExtraData(genesis.extraData);
    expect(decoded).toMatchObject({ vanity: `0x${'00'.repeat(32)}`, vote: [], round: 0, seals: [] });
    const fromKeys = await Promise.all(
      summary.members.map(async (m) => {
        const key = (await readFile(join(outDir, 'members', m.folder, 'besu', 'key'), 'utf8')) as Hex;
        return besuNodeKey(key).address;
      }),
    );
    expect(decoded.validators).toEqual(fromKeys);
    expect(new Set(fromKeys).size).toBe(4);
  });

  it('derives every enode URL from its node key, host and port; static nodes and allowlists list them all', async () => {
    const enodes: string[] = [];
    for (const m of summary.members) {
      const key = (await readFile(join(outDir, 'members', m.folder, 'besu', 'key'), 'utf8')) as Hex;
      const expected = `enode://${besuNodeKey(key).enodeId}@10.0.0.${m.index}:${30302 + m.index}`;
      expect(m.validator.enode).toBe(expected);
      expect(besuNodeKey(key).enodeId).toMatch(/^[0-9a-f]{128}$/);
      enodes.push(expected);
    }
    expect(JSON.parse(await readFile(join(outDir, 'static-nodes.json'), 'utf8'))).toEqual(enodes);
    for (const m of summary.members) {
      const besuDir = join(outDir, 'members', m.folder, 'besu');
      expect(JSON.parse(await readFile(join(besuDir, 'data', 'static-nodes.json'), 'utf8'))).toEqual(enodes);
      expect(parseFlatToml(await readFile(join(besuDir, 'permissions_config.toml'), 'utf8'))).toEqual({
        'nodes-allowlist': enodes,
      });
      expect(JSON.parse(await readFile(join(besuDir, 'genesis.json'), 'utf8'))).toEqual(genesis);
    }
  });

  it('writes a Besu config per member that parses and serves QBFT JSON-RPC on loopback', async () => {
    for (const m of summary.members) {
      const config = parseFlatToml(
        await readFile(join(outDir, 'members', m.folder, 'besu', 'config.toml'), 'utf8'),
      );
      expect(config).toMatchObject({
        'genesis-file': 'genesis.json',
        'node-private-key-file': 'key',
        'rpc-http-enabled': true,
        'rpc-http-host': '127.0.0.1',
        'rpc-http-port': m.validator.rpcPort,
        'rpc-http-api': ['ETH', 'NET', 'WEB3', 'QBFT', 'PERM'],
        'revert-reason-enabled': true,
        'metrics-enabled': true,
        'host-allowlist': ['localhost', '127.0.0.1'],
        'p2p-host': m.host,
        'p2p-interface': '0.0.0.0',
        'p2p-port': m.validator.p2pPort,
        'min-gas-price': 0,
        'permissions-nodes-config-file-enabled': true,
      });
      expect(config.bootnodes).toEqual(summary.members.filter((o) => o !== m).map((o) => o.validator.enode));
    }
  });

  it('gives each member a medledger data dir whose keys start uses, funded at genesis', async () => {
    for (const m of summary.members) {
      const memberDir = join(outDir, 'members', m.folder);
      const identity = await loadNodeIdentity(join(memberDir, 'medledger'));
      expect(identity.account.address).toBe(m.medledger.address);
      expect(identity.encryptionPublicKey).toBe(m.medledger.encryptionKey);
      expect(BigInt(genesis.alloc[m.medledger.address.toLowerCase()]?.balance ?? '0x0')).toBeGreaterThan(
        10n ** 18n,
      );
      const env = await readFile(join(memberDir, 'medledger.env'), 'utf8');
      expect(env).toContain(`MEDLEDGER_RPC_URL='http://127.0.0.1:${m.validator.rpcPort}'`);
      expect(env).toContain(`MEDLEDGER_PUBLIC_URL='${m.medledger.endpoint}'`);
      expect(env).toContain("MEDLEDGER_DATA_DIR='./medledger'");
    }
    expect(summary.members[2]?.name).toBe("St. Mary's Lab");
    expect(
      await readFile(join(outDir, 'members', summary.members[2]?.folder ?? '', 'medledger.env'), 'utf8'),
    ).toContain(`MEDLEDGER_NAME='St. Mary'\\''s Lab'`);
  });

  it('keeps every private key in its own member folder only, mode 0600', async () => {
    const all = await filesUnder(outDir);
    for (const m of summary.members) {
      const memberDir = join(outDir, 'members', m.folder);
      const keyFiles = [
        join(memberDir, 'besu', 'key'),
        join(memberDir, 'medledger', 'keys', 'node-signing.key'),
        join(memberDir, 'medledger', 'keys', 'node-encryption.key'),
      ];
      for (const file of keyFiles) {
        expect((await stat(file)).mode & 0o777).toBe(0o600);
        const secret = (await readFile(file, 'utf8')).trim().replace(/^0x/, '').toLowerCase();
        expect(secret).toMatch(/^[0-9a-f]{64}$/);
        const holders: string[] = [];
        for (const other of all) {
          if ((await readFile(other, 'utf8')).toLowerCase().includes(secret)) holders.push(other);
        }
        expect(holders.map((h) => relative(outDir, h))).toEqual([relative(outDir, file)]);
      }
      expect((await stat(memberDir)).mode & 0o777).toBe(0o700);
    }
    expect(getAddress(summary.members[0]?.medledger.address ?? '')).toBeTruthy();
  });

  it('prepares a joining institution with its own keys, the same genesis and every validator as bootnode', async () => {
    const { member, summary: updated } = await addConsortiumMember({
      consortiumDir: outDir,
      name: 'Pharmacy E',
      host: '10.0.0.9',
    });
    expect(member).toMatchObject({ index: 5, folder: '5-pharmacy-e', host: '10.0.0.9' });
    const besuDir = join(outDir, 'members', member.folder, 'besu');
    const key = (await readFile(join(besuDir, 'key'), 'utf8')) as Hex;
    expect((await stat(join(besuDir, 'key'))).mode & 0o777).toBe(0o600);
    expect(member.validator.enode).toBe(`enode://${besuNodeKey(key).enodeId}@10.0.0.9:30307`);
    // It joins the running chain: same genesis, not a genesis validator (the validators vote it in).
    expect(JSON.parse(await readFile(join(besuDir, 'genesis.json'), 'utf8'))).toEqual(genesis);
    expect(decodeQbftExtraData(genesis.extraData).validators).not.toContain(besuNodeKey(key).address);
    const config = parseFlatToml(await readFile(join(besuDir, 'config.toml'), 'utf8'));
    expect(config.bootnodes).toEqual(summary.members.map((m) => m.validator.enode));
    const onDisk = JSON.parse(await readFile(join(outDir, 'consortium.json'), 'utf8')) as ConsortiumSummary;
    expect(onDisk.members.map((m) => m.name)).toEqual([...summary.members.map((m) => m.name), 'Pharmacy E']);
    expect(updated.members).toHaveLength(5);
    const identity = await loadNodeIdentity(join(outDir, 'members', member.folder, 'medledger'));
    expect(identity.account.address).toBe(member.medledger.address);
    await expect(addConsortiumMember({ consortiumDir: outDir, name: 'Pharmacy E' })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
    });
  });

  it('refuses to write into a directory that is not empty', async () => {
    await writeFile(join(outDir, 'extra.txt'), 'x');
    await expect(initConsortium({ members: 2, outDir })).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    await expect(initConsortium({ members: 0, outDir: join(outDir, '..', 'other') })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
    });
  });
});
