/**
 * A consortium end to end, on one anvil started from the generated Besu genesis (Besu
 * itself cannot be installed here): `consortium init --members 3` with a TLS certificate,
 * member 1 deploys the contracts with its generated configuration and runs as a server-mode
 * node serving https, members 2
 * and 3 are admitted by majority vote through the CLI, then member 3 is removed by vote.
 * Members 2 and 3 use their own databases on the PostgreSQL server (DATABASE_URL), as the
 * guide recommends; member 1 keeps PGlite in its data directory, so its CLI commands run
 * inside its running node (the admin socket). Every JSON-RPC call of every medledger process goes through a recording
 * proxy that answers only the methods Besu implements (server mode must behave the same
 * on Besu), and none may be an anvil/hardhat-only method.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { get as httpsGet } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { type Address, createPublicClient, http } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AnvilInstance, freePort, startAnvil } from '../../src/chain/testing/anvil.ts';
import type { ConsortiumSummary } from '../../src/consortium/ConsortiumSummary.ts';
import type { MembershipView } from '../../src/consortium/readMembership.ts';
import type { GovernanceResult } from '../../src/consortium/submitGovernance.ts';
import { asServerAdmin, serverDatabaseUrl } from '../../src/store/testing/databases.ts';
import { makeCertificate } from '../support/selfSignedCertificate.ts';
import { type RecordingRpcProxy, startRecordingRpcProxy } from './support/recordingRpcProxy.ts';

const execFileAsync = promisify(execFile);
const MEDLEDGER = resolve('bin/medledger.js');
/** Runs medledger in a member's folder with its generated medledger.env, as DEPLOY.md does. */
const WITH_MEMBER_ENV = 'set -a; . ./medledger.env; set +a; exec node "$0" "$@"';
/**
 * Besu's standard JSON-RPC methods (its ETH, NET and WEB3 APIs, the ones the generated config
 * enables besides QBFT); https://besu.hyperledger.org/public-networks/reference/api
 */
const BESU_METHODS = new Set([
  'eth_accounts',
  'eth_blobBaseFee',
  'eth_blockNumber',
  'eth_call',
  'eth_chainId',
  'eth_coinbase',
  'eth_createAccessList',
  'eth_estimateGas',
  'eth_feeHistory',
  'eth_gasPrice',
  'eth_getBalance',
  'eth_getBlockByHash',
  'eth_getBlockByNumber',
  'eth_getBlockReceipts',
  'eth_getBlockTransactionCountByHash',
  'eth_getBlockTransactionCountByNumber',
  'eth_getCode',
  'eth_getFilterChanges',
  'eth_getFilterLogs',
  'eth_getLogs',
  'eth_getProof',
  'eth_getStorageAt',
  'eth_getTransactionByBlockHashAndIndex',
  'eth_getTransactionByBlockNumberAndIndex',
  'eth_getTransactionByHash',
  'eth_getTransactionCount',
  'eth_getTransactionReceipt',
  'eth_maxPriorityFeePerGas',
  'eth_newBlockFilter',
  'eth_newFilter',
  'eth_newPendingTransactionFilter',
  'eth_protocolVersion',
  'eth_sendRawTransaction',
  'eth_simulateV1',
  'eth_syncing',
  'eth_uninstallFilter',
  'net_listening',
  'net_peerCount',
  'net_version',
  'web3_clientVersion',
  'web3_sha3',
]);

interface CliOutcome {
  code: number;
  stdout: string;
  stderr: string;
}

// Many medledger processes in a row: generous per-test limits for a loaded two-core machine.
describe('a three-member consortium from consortium init', { timeout: 240_000 }, () => {
  let work = '';
  let summary: ConsortiumSummary;
  let anvil: AnvilInstance;
  let proxy: RecordingRpcProxy;
  let node1: ChildProcess | undefined;
  const databases = [2, 3].map((n) => `medledger_consortium_${Date.now().toString(36)}_${n}`);
  const databaseUrl = (n: number) => serverDatabaseUrl(databases[n - 2] as string);
  const admin = asServerAdmin;
  const memberDir = (n: number) => join(work, 'net', 'members', summary.members[n - 1]?.folder ?? '?');
  const address = (n: number) => summary.members[n - 1]?.medledger.address as Address;

  async function cli(member: number, args: string[]): Promise<CliOutcome> {
    const connection = [
      '--rpc-url',
      proxy.url,
      ...(member === 1 ? [] : ['--database-url', databaseUrl(member)]),
    ];
    return execFileAsync('sh', ['-c', WITH_MEMBER_ENV, MEDLEDGER, ...args, ...connection], {
      cwd: memberDir(member),
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => ({
        code: error.code,
        stdout: error.stdout,
        stderr: error.stderr,
      }),
    );
  }
  async function json<T>(member: number, args: string[]): Promise<T> {
    const outcome = await cli(member, [...args, '--json']);
    if (outcome.code !== 0) throw new Error(`${args.join(' ')} exited ${outcome.code}: ${outcome.stderr}`);
    return JSON.parse(outcome.stdout) as T;
  }
  const list = (member: number) => json<MembershipView>(member, ['member', 'list']);
  let ca: Buffer;
  /** GET /healthz over https, verifying the node's certificate against the one handed to consortium init. */
  const health = (port: number) =>
    new Promise<{ ready?: boolean; member?: string }>((resolveHealth) => {
      const request = httpsGet({ host: '127.0.0.1', port, path: '/healthz', ca }, (response) => {
        let body = '';
        response.on('data', (c: Buffer) => {
          body += c.toString();
        });
        response.on('end', () => {
          try {
            resolveHealth(JSON.parse(body) as { ready?: boolean; member?: string });
          } catch {
            resolveHealth({});
          }
        });
      });
      request.on('error', () => resolveHealth({}));
    });
  const activeNames = (view: MembershipView) => view.members.filter((m) => m.active).map((m) => m.name);

  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'medledger-consortium-'));
    for (const database of databases) await admin(`CREATE DATABASE ${database}`);
    // The operator's certificate for the members' host (all on loopback here), made with the openssl CLI.
    makeCertificate(work, 'member', 'IP:127.0.0.1', '127.0.0.1');
    ca = await readFile(join(work, 'member.crt'));
    const init = await execFileAsync('node', [
      MEDLEDGER,
      'consortium',
      'init',
      '--members',
      '3',
      '--out',
      join(work, 'net'),
      '--names',
      'Hospital A,Clinic B,Lab C',
      '--tls-cert',
      join(work, 'member.crt'),
      '--tls-key',
      join(work, 'member.key'),
      '--json',
    ]);
    summary = JSON.parse(init.stdout) as ConsortiumSummary;
    // anvil accepts the Besu genesis as is: chain id, zero base fee and the funded member accounts.
    anvil = await startAnvil({ args: ['--init', join(work, 'net', 'genesis.json')] });
    proxy = await startRecordingRpcProxy(anvil.rpcUrl, { allow: (m) => BESU_METHODS.has(m) });
  });
  afterAll(async () => {
    if (node1 && node1.exitCode === null) {
      const exited = new Promise((r) => node1?.once('exit', r));
      node1.kill('SIGTERM');
      await exited;
    }
    await proxy?.close();
    await anvil?.stop();
    await rm(work, { recursive: true, force: true });
    for (const database of databases) await admin(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  });

  it('starts the chain from the generated genesis with every member account funded and no base fee', async () => {
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    expect(await client.getChainId()).toBe(summary.chainId);
    for (const m of summary.members) {
      expect(await client.getBalance({ address: m.medledger.address })).toBe(10n ** 24n);
    }
    expect((await client.getBlock()).baseFeePerGas).toBe(0n);
  });

  it('member 1 deploys the contracts with its generated config and runs a server-mode node', async () => {
    const deployed = await json<{ firstMember: string; chainId: number }>(1, ['chain', 'deploy']);
    expect(deployed).toMatchObject({ firstMember: address(1), chainId: summary.chainId });
    // The other members receive contracts.json (DEPLOY.md step 2).
    for (const n of [2, 3]) {
      await mkdir(join(memberDir(n), 'medledger', 'chain'), { recursive: true });
      await copyFile(
        join(memberDir(1), 'medledger', 'chain', 'contracts.json'),
        join(memberDir(n), 'medledger', 'chain', 'contracts.json'),
      );
    }
    const port = await freePort();
    const args = ['start', '--port', String(port), '--rpc-url', proxy.url];
    node1 = spawn('sh', ['-c', WITH_MEMBER_ENV, MEDLEDGER, ...args], {
      cwd: memberDir(1),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    node1.stderr?.on('data', (c: Buffer) => {
      log += c.toString();
    });
    const deadline = Date.now() + 60_000;
    // The generated medledger.env serves the API over TLS with the member's certificate.
    let ready: { ready?: boolean; member?: string } = {};
    while (!ready.ready) {
      if (node1.exitCode !== null || Date.now() > deadline)
        throw new Error(`node 1 did not become ready:\n${log}`);
      ready = await health(port);
      if (!ready.ready) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ready.member).toBe(address(1));
    const view = await list(1);
    expect(activeNames(view)).toEqual(['Hospital A']);
    expect(view.members[0]).toMatchObject({
      address: address(1),
      endpoint: summary.members[0]?.medledger.endpoint,
    });
    // What the Registry publishes is the https endpoint.
    expect(view.members[0]?.endpoint).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
  });

  it('admits member 2 on the founder’s single vote (1 of 1)', async () => {
    const m2 = summary.members[1];
    const result = await json<GovernanceResult>(1, [
      'member',
      'propose-admit',
      '--address',
      address(2),
      '--name',
      'Clinic B',
      '--encryption-key',
      m2?.medledger.encryptionKey ?? '',
      '--endpoint',
      m2?.medledger.endpoint ?? '',
    ]);
    expect(result).toMatchObject({
      proposalId: 0,
      kind: 'admit',
      votes: 1,
      executed: true,
      activeMembers: 2,
    });
    expect(activeNames(await list(2))).toEqual(['Hospital A', 'Clinic B']);
  });

  it('needs a second vote to admit member 3 once there are two members', async () => {
    const m3 = summary.members[2];
    const proposed = await json<GovernanceResult>(1, [
      'member',
      'propose-admit',
      '--address',
      address(3),
      '--name',
      'Lab C',
      '--encryption-key',
      m3?.medledger.encryptionKey ?? '',
      '--endpoint',
      m3?.medledger.endpoint ?? '',
    ]);
    expect(proposed).toMatchObject({
      proposalId: 1,
      votes: 1,
      votesNeeded: 2,
      executed: false,
      activeMembers: 2,
    });
    const [pending, outsider, twice] = await Promise.all([
      list(1),
      // Neither the candidate nor a second vote by the proposer counts; nothing is sent for them.
      cli(3, ['member', 'vote', '--proposal', '1']),
      cli(1, ['member', 'vote', '--proposal', '1']),
    ]);
    expect(activeNames(pending)).toEqual(['Hospital A', 'Clinic B']);
    expect(pending.proposals.find((p) => p.id === 1)).toMatchObject({
      kind: 'admit',
      subject: address(3),
      votes: 1,
      executed: false,
      votedByViewer: true,
    });
    expect(outsider.code).toBe(2);
    expect(outsider.stderr).toContain('RegistryNotMember');
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain('RegistryAlreadyVoted');

    const voted = await json<GovernanceResult>(2, ['member', 'vote', '--proposal', '1']);
    expect(voted).toMatchObject({ proposalId: 1, votes: 2, executed: true, activeMembers: 3 });
    expect(activeNames(await list(1))).toEqual(['Hospital A', 'Clinic B', 'Lab C']);
  });

  it('removes member 3 by a majority of the three', async () => {
    const proposed = await json<GovernanceResult>(1, ['member', 'propose-remove', '--address', address(3)]);
    expect(proposed).toMatchObject({
      proposalId: 2,
      kind: 'remove',
      votes: 1,
      votesNeeded: 2,
      executed: false,
    });
    expect(activeNames(await list(1))).toEqual(['Hospital A', 'Clinic B', 'Lab C']);
    const voted = await json<GovernanceResult>(2, ['member', 'vote', '--proposal', '2']);
    expect(voted).toMatchObject({ executed: true, activeMembers: 2 });
    const [after, removed, badInput] = await Promise.all([
      list(1),
      // A removed member can no longer take part.
      cli(3, ['member', 'propose-remove', '--address', address(2)]),
      // Bad input is refused before anything reaches the outbox.
      cli(2, [
        'member',
        'propose-admit',
        '--address',
        'not-an-address',
        '--name',
        'X',
        '--encryption-key',
        '0x00',
        '--endpoint',
        'ftp://x',
      ]),
    ]);
    expect(activeNames(after)).toEqual(['Hospital A', 'Clinic B']);
    expect(after.members.find((m) => m.address === address(3))).toMatchObject({
      name: 'Lab C',
      active: false,
    });
    expect(after.proposals.filter((p) => !p.executed)).toEqual([]);
    expect(removed.code).toBe(2);
    expect(removed.stderr).toContain('RegistryNotMember');
    expect(badInput.code).toBe(2);
    expect(badInput.stderr).toMatch(/--address must be a member account address.*\[ERR_CONFIG\]/);
    // The running node's indexer follows the same history from the chain's events (it may lag a poll).
    const expected = [
      [address(1).toLowerCase(), true],
      [address(2).toLowerCase(), true],
      [address(3).toLowerCase(), false],
    ];
    const deadline = Date.now() + 60_000;
    let indexed: unknown[] = [];
    do {
      const status = await json<{ members: Array<{ address: string; active: boolean }> }>(1, [
        'chain',
        'status',
      ]);
      indexed = status.members.map((m) => [m.address.toLowerCase(), m.active]);
    } while (JSON.stringify(indexed) !== JSON.stringify(expected) && Date.now() < deadline);
    expect(indexed).toEqual(expected);
  });

  it('used only Besu’s standard JSON-RPC methods, on a chain whose base fee stayed zero', async () => {
    const methods = new Set(proxy.methods);
    expect(
      [...methods].filter((m) => /^(anvil|evm|hardhat|debug|ganache)_/.test(m) || m === '<unparseable>'),
    ).toEqual([]);
    // The one method outside Besu's API is viem's optional eth_fillTransaction probe; refused as
    // Besu refuses it, viem fills nonce, gas and fees from the standard methods instead.
    expect(new Set(proxy.refused)).toEqual(new Set(['eth_fillTransaction']));
    // The proxy saw the node's real work: transactions, receipts and the indexer's log queries.
    for (const m of [
      'eth_chainId',
      'eth_sendRawTransaction',
      'eth_getTransactionReceipt',
      'eth_getLogs',
      'eth_call',
    ]) {
      expect(methods).toContain(m);
    }
    const client = createPublicClient({ transport: http(anvil.rpcUrl) });
    const latest = await client.getBlock();
    expect(latest.number).toBeGreaterThan(5n);
    expect(latest.baseFeePerGas).toBe(0n);
  });
});
