import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createSecureContext } from 'node:tls';
import { getAddress, type Hex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadNodeIdentity } from '../../src/chain/nodeIdentity.ts';
import { addConsortiumMember } from '../../src/consortium/addConsortiumMember.ts';
import { type BesuGenesis, BFT_MIX_HASH } from '../../src/consortium/besuGenesis.ts';
import type { ConsortiumSummary } from '../../src/consortium/ConsortiumSummary.ts';
import { faultToleranceNote, qbftFaultTolerance, qbftQuorum } from '../../src/consortium/deploymentSteps.ts';
import { besuNodeKey } from '../../src/consortium/enode.ts';
import { initConsortium } from '../../src/consortium/initConsortium.ts';
import { endpointSecurityFromFlags } from '../../src/consortium/memberTls.ts';
import { decodeQbftExtraData, encodeQbftExtraData } from '../../src/consortium/qbftExtraData.ts';
import { tlsServerOptions } from '../../src/server/security/tlsOptions.ts';
import { makeCertificate } from '../support/selfSignedCertificate.ts';

/** The KEY='value' lines of a generated medledger.env, unquoted as the shell would. */
function parseEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line);
    if (!match) continue;
    const raw = match[2] as string;
    out[match[1] as string] = raw.startsWith("'") ? raw.slice(1, -1).replaceAll("'\\''", "'") : raw;
  }
  return out;
}

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
  let certs = '';
  let summary: ConsortiumSummary;
  let genesis: BesuGenesis;

  beforeAll(async () => {
    const work = await mkdtemp(join(tmpdir(), 'medledger-consortium-files-'));
    outDir = join(work, 'net');
    certs = join(work, 'certs');
    await mkdir(certs);
    for (const n of [1, 2, 3, 4]) makeCertificate(certs, `member${n}`, `IP:10.0.0.${n}`);
    makeCertificate(certs, 'pharmacy', 'DNS:pharmacy.example.org');
    summary = await initConsortium({
      members: 4,
      outDir,
      names: ['Hospital A', 'Clinic B', "St. Mary's Lab", 'Hospital A East'],
      chainId: 2024_11,
      hostTemplate: '10.0.0.{n}',
      security: { mode: 'tls', cert: join(certs, 'member{n}.crt'), key: join(certs, 'member{n}.key') },
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

  it('writes a Besu QBFT genesis with a free-gas fee market and the forks up to Shanghai, no Cancun', () => {
    expect(genesis.config).toMatchObject({
      chainId: 2024_11,
      berlinBlock: 0,
      londonBlock: 0,
      shanghaiTime: 0,
      zeroBaseFee: true,
      qbft: { blockperiodseconds: 2, epochlength: 30000, requesttimeoutseconds: 4 },
    });
    // The contracts are compiled for Shanghai; no later fork is switched on.
    expect(Object.keys(genesis.config).filter((k) => /Time$|Block$/.test(k))).toEqual([
      'berlinBlock',
      'londonBlock',
      'shanghaiTime',
    ]);
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
      const tlsKey = join(memberDir, 'medledger', 'tls', 'key.pem');
      expect((await stat(tlsKey)).mode & 0o777).toBe(0o600);
      const tlsKeyBody = (await readFile(tlsKey, 'utf8')).split('\n')[1] as string;
      const tlsHolders: string[] = [];
      for (const other of all) {
        if ((await readFile(other, 'utf8')).includes(tlsKeyBody)) tlsHolders.push(relative(outDir, other));
      }
      expect(tlsHolders).toEqual([relative(outDir, tlsKey)]);
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
    const pharmacyTls = {
      mode: 'tls',
      cert: join(certs, 'pharmacy.crt'),
      key: join(certs, 'pharmacy.key'),
    } as const;
    // Its certificate must name its host: refused before anything is written.
    await expect(
      addConsortiumMember({
        consortiumDir: outDir,
        name: 'Pharmacy E',
        host: '10.0.0.9',
        security: pharmacyTls,
      }),
    ).rejects.toThrow(/does not name 10\.0\.0\.9/);
    expect(await readdir(join(outDir, 'members'))).toHaveLength(4);
    const { member, summary: updated } = await addConsortiumMember({
      consortiumDir: outDir,
      name: 'Pharmacy E',
      host: 'pharmacy.example.org',
      security: pharmacyTls,
    });
    expect(member).toMatchObject({ index: 5, folder: '5-pharmacy-e', host: 'pharmacy.example.org' });
    expect(member.validator.validating).toBe(false);
    expect(member.medledger.endpoint).toBe('https://pharmacy.example.org:8084');
    const besuDir = join(outDir, 'members', member.folder, 'besu');
    const key = (await readFile(join(besuDir, 'key'), 'utf8')) as Hex;
    expect((await stat(join(besuDir, 'key'))).mode & 0o777).toBe(0o600);
    expect(member.validator.enode).toBe(`enode://${besuNodeKey(key).enodeId}@pharmacy.example.org:30307`);
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
    await expect(
      addConsortiumMember({ consortiumDir: outDir, name: 'Pharmacy E', security: { mode: 'insecure-http' } }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG' });
  });

  it('refuses to write into a directory that is not empty', async () => {
    await writeFile(join(outDir, 'extra.txt'), 'x');
    const insecure = { mode: 'insecure-http' } as const;
    await expect(initConsortium({ members: 2, outDir, security: insecure })).rejects.toMatchObject({
      code: 'ERR_CONFIG',
    });
    await expect(
      initConsortium({ members: 0, outDir: join(outDir, '..', 'other'), security: insecure }),
    ).rejects.toMatchObject({ code: 'ERR_CONFIG' });
    await expect(
      initConsortium({ members: 2, validators: 3, outDir: join(outDir, '..', 'other'), security: insecure }),
    ).rejects.toThrow(/--validators/);
  });

  it('serves each member endpoint over https with its own certificate, which medledger loads', async () => {
    for (const m of summary.members) {
      expect(m.medledger.endpoint).toBe(`https://10.0.0.${m.index}:${8079 + m.index}`);
      const memberDir = join(outDir, 'members', m.folder);
      const env = parseEnv(await readFile(join(memberDir, 'medledger.env'), 'utf8'));
      expect(env).toMatchObject({
        MEDLEDGER_PUBLIC_URL: m.medledger.endpoint,
        MEDLEDGER_TLS_CERT: './medledger/tls/cert.pem',
        MEDLEDGER_TLS_KEY: './medledger/tls/key.pem',
      });
      const certFile = join(memberDir, env.MEDLEDGER_TLS_CERT as string);
      expect(await readFile(certFile, 'utf8')).toBe(
        await readFile(join(certs, `member${m.index}.crt`), 'utf8'),
      );
      // The files are what `medledger start` reads (src/server/security/tlsOptions.ts) and form a TLS context.
      const options = tlsServerOptions({
        certFile,
        keyFile: join(memberDir, env.MEDLEDGER_TLS_KEY as string),
      });
      expect(() => createSecureContext(options)).not.toThrow();
    }
    // DEPLOY.md admits the members with the https endpoints.
    const deploy = await readFile(join(outDir, 'DEPLOY.md'), 'utf8');
    expect(deploy).toContain(`--endpoint ${summary.members[1]?.medledger.endpoint}`);
    expect(deploy).not.toContain('http://10.0.0.');
  });

  it("plain http without a certificate (the operators' interface), and refuses certificates that do not fit, before writing anything", async () => {
    expect(endpointSecurityFromFlags({})).toEqual({ mode: 'insecure-http' });
    expect(() => endpointSecurityFromFlags({ tlsCert: 'a.crt' })).toThrow(/both/);
    expect(endpointSecurityFromFlags({ insecureHttp: true })).toEqual({ mode: 'insecure-http' });
    const other = join(outDir, '..', 'refused');
    // One certificate for every member: it names 10.0.0.1 only, so member 2's endpoint could not be verified.
    await expect(
      initConsortium({
        members: 2,
        outDir: other,
        hostTemplate: '10.0.0.{n}',
        security: { mode: 'tls', cert: join(certs, 'member1.crt'), key: join(certs, 'member1.key') },
      }),
    ).rejects.toThrow(/member2|does not name 10\.0\.0\.2/);
    // A key that is not the certificate's.
    await expect(
      initConsortium({
        members: 1,
        outDir: other,
        hostTemplate: '10.0.0.{n}',
        security: { mode: 'tls', cert: join(certs, 'member1.crt'), key: join(certs, 'member2.key') },
      }),
    ).rejects.toThrow(/is not the key of the certificate/);
    await expect(readdir(other)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('makes 4 validators by default, and members beyond --validators non-validating nodes', async () => {
    const byDefault = await initConsortium({
      outDir: join(outDir, '..', 'default'),
      security: { mode: 'insecure-http' },
    });
    expect(byDefault.members).toHaveLength(4);
    const defaultGenesis = JSON.parse(
      await readFile(join(outDir, '..', 'default', 'genesis.json'), 'utf8'),
    ) as BesuGenesis;
    expect(decodeQbftExtraData(defaultGenesis.extraData).validators).toEqual(
      byDefault.members.map((m) => m.validator.address),
    );
    expect(byDefault.members.every((m) => m.medledger.endpoint.startsWith('http://127.0.0.1:'))).toBe(true);
    expect(
      await readFile(join(outDir, '..', 'default', 'members', '1-member-1', 'medledger.env'), 'utf8'),
    ).toContain('# Plain http (consortium init --insecure-http): for development only');

    const dir = join(outDir, '..', 'six');
    const six = await initConsortium({
      members: 6,
      validators: 4,
      outDir: dir,
      security: { mode: 'insecure-http' },
    });
    expect(six.members.map((m) => m.validator.validating)).toEqual([true, true, true, true, false, false]);
    const sixGenesis = JSON.parse(await readFile(join(dir, 'genesis.json'), 'utf8')) as BesuGenesis;
    expect(decodeQbftExtraData(sixGenesis.extraData).validators).toEqual(
      six.members.slice(0, 4).map((m) => m.validator.address),
    );
    // Non-validating members still sync the chain: every node knows and allows every other.
    const all = six.members.map((m) => m.validator.enode);
    for (const m of six.members) {
      const besuDir = join(dir, 'members', m.folder, 'besu');
      expect(parseFlatToml(await readFile(join(besuDir, 'permissions_config.toml'), 'utf8'))).toEqual({
        'nodes-allowlist': all,
      });
    }
    const deploy = await readFile(join(dir, 'DEPLOY.md'), 'utf8');
    expect(deploy).toContain('Member 5 (non-validating)');
    expect(deploy).toContain('Blocks are produced once 3 of the 4 validators are up and connected.');
    expect(deploy).toContain(faultToleranceNote(4));
  });

  it('states the QBFT fault arithmetic: n >= 3f + 1, quorum ⌈2n/3⌉', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 10].map(qbftFaultTolerance)).toEqual([0, 0, 0, 1, 1, 1, 2, 3]);
    expect([1, 2, 3, 4, 5, 6, 7, 10].map(qbftQuorum)).toEqual([1, 2, 2, 3, 4, 4, 5, 7]);
    expect(faultToleranceNote(3)).toMatch(/tolerates 0 faulty validators.*Use at least 4 validators/);
    expect(faultToleranceNote(4)).toBe(
      '4 validators: each block needs 3 signatures, so the chain tolerates 1 faulty validator (n >= 3f + 1).',
    );
  });
});
