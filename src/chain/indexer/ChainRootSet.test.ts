/**
 * The chain root set on a real anvil with the real contracts: filled from RootAnchored events at
 * start, kept current by the indexer's polls, one rate-limited Anchors.rootOf call on a miss, and
 * deaf to roots written into the database. RPC calls are counted by a client that forwards every
 * request to anvil.
 */
import { createPublicClient, custom, type Hex, keccak256, type PublicClient, toHex } from 'viem';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../store/db.ts';
import { openTestEmbedded } from '../../store/testing/embeddedTemplate.ts';
import { type AnvilAnchors, startAnvilAnchors } from '../../vault/testing/anvilAnchors.ts';
import type { ContractAddresses } from '../contractAddresses.ts';
import { ChainIndexer } from './ChainIndexer.ts';
import { ChainRootSet, MISS_RETRY_MS } from './ChainRootSet.ts';

const rootNumber = (n: number): Hex => keccak256(toHex(`root ${n}`));

describe('chain root set', () => {
  let chain: AnvilAnchors;
  let addresses: ContractAddresses;
  let db: Db;
  let indexer: ChainIndexer;
  let roots: ChainRootSet;
  const calls: string[] = [];
  const ethCalls = () => calls.filter((method) => method === 'eth_call').length;

  beforeAll(async () => {
    chain = await startAnvilAnchors();
    addresses = await chain.deploy();
    // Three roots anchored before the node starts, each in its own block.
    await chain.anchor(addresses, { kind: 0, sequence: 0n, leafCount: 1, root: rootNumber(0) });
    await chain.anchor(addresses, { kind: 0, sequence: 1n, leafCount: 2, root: rootNumber(1) });
    await chain.anchor(addresses, { kind: 1, sequence: 0n, leafCount: 3, root: rootNumber(100) });
    const counting: PublicClient = createPublicClient({
      transport: custom({
        request: ({ method, params }) => {
          calls.push(method);
          return chain.publicClient.request({ method, params } as never);
        },
      }),
    });
    roots = await ChainRootSet.load({
      publicClient: counting,
      anchors: addresses.anchors,
      member: chain.walletClient.account.address,
      fromBlock: BigInt(addresses.deployBlock),
      chunkSize: 2n,
    });
    db = await openTestEmbedded();
    indexer = new ChainIndexer({
      db,
      publicClient: chain.publicClient,
      addresses,
      onRootAnchored: (root) => roots.add(root),
    });
    await indexer.init();
  });

  afterAll(async () => {
    await indexer?.stop();
    await db?.close();
    await chain?.stop();
  });

  it('is filled at start from the RootAnchored events, in block-range pages, without a contract call', async () => {
    expect(calls.filter((method) => method === 'eth_getLogs').length).toBeGreaterThan(1);
    expect(await roots.rootOf(0, 0n)).toBe(rootNumber(0));
    expect(await roots.rootOf(0, 1n)).toBe(rootNumber(1));
    expect(await roots.rootOf(1, 0n)).toBe(rootNumber(100));
    expect([roots.count(0), roots.count(1)]).toEqual([2, 1]);
    expect(ethCalls()).toBe(0);
  });

  it('takes the roots of new blocks from the indexer', async () => {
    await chain.anchor(addresses, { kind: 0, sequence: 2n, leafCount: 1, root: rootNumber(2) });
    await indexer.poll();
    expect(await roots.rootOf(0, 2n)).toBe(rootNumber(2));
    expect(ethCalls()).toBe(0);
  });

  it('asks the contract once for a missing root, and not again within the retry interval', async () => {
    const before = ethCalls();
    const answers = await Promise.all(Array.from({ length: 100 }, () => roots.rootOf(0, 3n)));
    expect(answers.every((answer) => answer === undefined)).toBe(true);
    expect(await roots.rootOf(0, 3n)).toBeUndefined();
    expect(ethCalls()).toBe(before + 1);
    // Anchored now, but the indexer is not polled: after the interval the contract answers.
    await chain.anchor(addresses, { kind: 0, sequence: 3n, leafCount: 1, root: rootNumber(3) });
    expect(await roots.rootOf(0, 3n)).toBeUndefined();
    expect(ethCalls()).toBe(before + 1);
    await new Promise((resolve) => setTimeout(resolve, MISS_RETRY_MS + 50));
    expect(await roots.rootOf(0, 3n)).toBe(rootNumber(3));
    expect(await roots.rootOf(0, 3n)).toBe(rootNumber(3));
    expect(ethCalls()).toBe(before + 2);
  });

  it('does not believe roots written into the database', async () => {
    await indexer.poll();
    const member = chain.walletClient.account.address.toLowerCase();
    await db.query(
      'UPDATE chain_anchored_roots SET root = $2 WHERE member = $1 AND kind = 0 AND sequence = 0',
      [member, rootNumber(666)],
    );
    await db.query(
      `INSERT INTO chain_anchored_roots (member, kind, sequence, leaf_count, root, block_number, tx_hash)
       VALUES ($1, 0, 4, 1, $2, 1, '0x')`,
      [member, rootNumber(667)],
    );
    expect(await roots.rootOf(0, 0n)).toBe(rootNumber(0));
    expect(await roots.rootOf(0, 4n)).toBeUndefined();
  });

  it('ignores roots other members anchored', () => {
    roots.add({ member: `0x${'ab'.repeat(20)}`, kind: 0, sequence: 9n, root: rootNumber(9) });
    expect(roots.count(0)).toBe(4);
  });
});
