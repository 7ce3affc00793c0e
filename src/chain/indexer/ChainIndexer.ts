/**
 * Follows Registry, Consent and Anchors events into the local cache tables and an
 * in-memory consent view, so a consent decision costs no RPC round trip. Only final blocks
 * (../finality.ts) are applied. Each block range is applied in one database transaction with the
 * block it is current to and that block's hash, so after a restart it resumes exactly where it
 * stopped.
 *
 * Chain truth is re-checked, not remembered: whenever the head changes, the indexed block must
 * still be on the chain under the same hash, and every write of this node recorded as confirmed
 * in a range must still be in its block. When not (a reorganisation, a rollback, a chain node
 * restarted from an older state), the indexer rewinds to the newest checkpoint the chain still
 * holds, rebuilds its tables and the consent view from the events that still hold, and puts the
 * writes confirmed above it back in flight (outbox/reopenOutbox.ts), all in one transaction. Anchored roots also go, once their range is
 * applied, to `onRootAnchored` (the vault's ChainRootSet, which never reads them back from
 * the database).
 */
import {
  type Address,
  BlockNotFoundError,
  type Hex,
  type Log,
  type PublicClient,
  parseEventLogs,
} from 'viem';
import type { Db, Queryable } from '../../store/db.ts';
import type { ContractAddresses } from '../contractAddresses.ts';
import { type Finality, finalBlockNumber } from '../finality.ts';
import { anchorsAbi, consentAbi, registryAbi } from '../generated/contracts.ts';
import { confirmedOutboxBlocks, reopenOutboxAbove, reopenOutboxInBlock } from '../outbox/reopenOutbox.ts';
import { PollingLoop } from '../PollingLoop.ts';
import type { AnchoredRoot } from './ChainRootSet.ts';
import { ConsentCache } from './ConsentCache.ts';

export interface ChainIndexerOptions {
  db: Db;
  publicClient: PublicClient;
  addresses: ContractAddresses;
  /** Blocks are applied only once final under this setting. Default: depth 1 (the head). */
  finality?: Finality;
  pollIntervalMs?: number;
  /** Blocks per eth_getLogs call while catching up. */
  chunkSize?: bigint;
  onError?: (error: unknown) => void;
  /** Every `RootAnchored` event (any member), after the block range it is in is applied. */
  onRootAnchored?: (root: AnchoredRoot) => void;
  /** Roots whose block the chain no longer has (a rewind): no longer anchored until re-posted. */
  onRootsDropped?: (roots: AnchoredRoot[]) => void;
  /** After a rewind, with the writes put back in flight (wake the outbox). */
  onRewound?: (rewind: IndexerRewind) => void;
}

export interface IndexerRewind {
  /** When it was noticed (ms since epoch). */
  at: number;
  /** The indexed block that no longer held. */
  from: bigint;
  /** The last block that still holds: the indexer resumes after it. */
  to: bigint;
  /** Outbox entries put back in flight. */
  reopened: number;
  reason: string;
}

export interface IndexerStatus {
  /** Last block whose events are applied (final under the finality setting). */
  block: bigint;
  /** Chain head at the last successful poll. */
  head: bigint;
  /** Final block at the last successful poll (the indexer applies up to it). */
  final: bigint;
  /** When the last poll succeeded (ms since epoch); 0 before the first. */
  polledAt: number;
  /** Rewinds since start; the last one. */
  rewinds: number;
  lastRewind: IndexerRewind | undefined;
}

type DecodedLog = Log<bigint, number, false> & { eventName: string; args: Record<string, unknown> };

/** Checkpoints (block hashes of range ends) kept this far below the indexed block. */
const CHECKPOINT_HISTORY = 10_000n;
/** Event kinds whose tables hold the latest state per key: rebuilt from chain_events on a rewind. */
const KEYED_EVENTS = [
  'MemberAdmitted',
  'MemberUpdated',
  'MemberRemoved',
  'PractitionerRegistered',
  'PractitionerDeactivated',
  'ConsentGranted',
  'ConsentRevoked',
  'DelegateSet',
];

export class ChainIndexer {
  #consent = new ConsentCache();
  readonly #options: ChainIndexerOptions;
  #status: IndexerStatus = {
    block: -1n,
    head: -1n,
    final: -1n,
    polledAt: 0,
    rewinds: 0,
    lastRewind: undefined,
  };
  readonly #loop: PollingLoop;
  #listeners = new Set<() => void>();
  /** Hash of the indexed block (`#status.block`), as the chain had it when applied. */
  #tipHash = '0x';
  /** Head hash at the last poll: an unchanged head needs no re-check of the indexed block. */
  #seenHead = '';
  #polling: Promise<void> | undefined;
  /** When the running (or last) poll started, and when the last one ended, succeeded or not. */
  readonly #attempt = { startedAt: 0, endedAt: 0 };
  readonly #attemptListeners = new Set<() => void>();
  #ranges = 0;

  constructor(options: ChainIndexerOptions) {
    this.#options = options;
    this.#loop = new PollingLoop(() => this.poll(), options.pollIntervalMs ?? 100, options.onError);
  }

  /** The consent view, current to `status.block` (replaced as a whole after a rewind). */
  get consent(): ConsentCache {
    return this.#consent;
  }

  get status(): IndexerStatus {
    return { ...this.#status };
  }

  /** Loads the cache from the database and catches up to the chain head once. */
  async init(): Promise<void> {
    const rows = await this.#options.db.query<{ block_number: string; block_hash: string }>(
      'SELECT block_number::text AS block_number, block_hash FROM chain_index_state WHERE id = 1',
    );
    const stored = rows[0] ? BigInt(rows[0].block_number) : this.#beforeDeploy();
    this.#status.block = stored;
    this.#tipHash = rows[0]?.block_hash.toLowerCase() ?? '0x';
    await this.#consent.load(this.#options.db);
    await this.poll();
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Polls now rather than at the next interval (a write of this node was just mined). */
  wake(): void {
    this.#loop.wake();
  }

  /** Re-reads the relayed revocations not yet final on chain (call after relaying one). */
  refreshConsentHolds(): Promise<void> {
    return this.#consent.refreshHolds(this.#options.db);
  }

  /**
   * Resolves once a poll newer than `maxAgeMs` succeeded, or failed, or after `timeoutMs` (the
   * caller then reads `status` and decides: a hung chain shows as a stale `polledAt`). It never
   * waits on a poll that already hangs longer than `timeoutMs`, so while the chain hangs only the
   * first caller waits, the others decide at once.
   */
  async ensureFresh(maxAgeMs: number, timeoutMs: number): Promise<void> {
    const now = Date.now();
    if (now - this.#status.polledAt <= maxAgeMs || now - this.#attempt.endedAt <= maxAgeMs) return;
    if (this.#polling && now - this.#attempt.startedAt >= timeoutMs) return;
    let done: () => void = () => {};
    const ended = new Promise<void>((resolve) => {
      done = resolve;
      this.#attemptListeners.add(done);
    });
    if (this.#loop.running) this.#loop.wake();
    else void this.poll().catch(() => {});
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    this.#attemptListeners.delete(done);
  }

  /** Resolves once the indexer has applied `block` (e.g. the block a write was mined in). */
  async waitForBlock(block: bigint, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.#status.block < block) {
      if (Date.now() > deadline) throw new Error(`indexer did not reach block ${block} in ${timeoutMs} ms`);
      this.#loop.wake();
      await new Promise<void>((resolve) => {
        const done = () => {
          this.#listeners.delete(done);
          resolve();
        };
        this.#listeners.add(done);
        setTimeout(done, 50);
      });
    }
  }

  /**
   * Checks that the indexed block still holds (rewinding when it does not), then applies every
   * final block after it. One poll at a time: concurrent callers share the running one.
   */
  poll(): Promise<void> {
    if (!this.#polling) {
      this.#attempt.startedAt = Date.now();
      this.#polling = this.#poll().finally(() => {
        this.#polling = undefined;
        this.#attempt.endedAt = Date.now();
        for (const listener of [...this.#attemptListeners]) listener();
      });
    }
    return this.#polling;
  }

  async #poll(): Promise<void> {
    const { publicClient } = this.#options;
    const latest = await publicClient.getBlock({ blockTag: 'latest' });
    const head = latest.number;
    if (latest.hash !== this.#seenHead) await this.#checkIndexedBlock(head, latest.hash);
    const final = await finalBlockNumber(publicClient, this.#options.finality ?? { depth: 1 }, head);
    const chunk = this.#options.chunkSize ?? 2000n;
    while (this.#status.block < final) {
      const from = this.#status.block + 1n;
      const to = from + chunk - 1n < final ? from + chunk - 1n : final;
      await this.#applyRange(from, to);
    }
    this.#seenHead = latest.hash;
    this.#status.head = head;
    this.#status.final = final;
    this.#status.polledAt = Date.now();
    for (const listener of [...this.#listeners]) listener();
  }

  #beforeDeploy(): bigint {
    return BigInt(this.#options.addresses.deployBlock) - 1n;
  }

  async #hashOf(block: bigint): Promise<string | undefined> {
    try {
      const found = await this.#options.publicClient.getBlock({ blockNumber: block });
      return found.hash?.toLowerCase();
    } catch (error) {
      if (error instanceof BlockNotFoundError) return undefined;
      throw error;
    }
  }

  /** The chain must still have the indexed block, under the same hash; else rewind. */
  async #checkIndexedBlock(head: bigint, headHash: Hex): Promise<void> {
    const tip = this.#status.block;
    if (tip <= this.#beforeDeploy()) return;
    let reason: string | undefined;
    if (tip > head) reason = `the chain head ${head} is below the indexed block ${tip}`;
    else {
      const hash = tip === head ? headHash.toLowerCase() : await this.#hashOf(tip);
      if (hash !== this.#tipHash) reason = `block ${tip} changed (${this.#tipHash} is now ${hash ?? 'gone'})`;
    }
    if (reason) await this.#rewind(await this.#lastBlockThatHolds(head), reason);
  }

  /** The newest checkpoint the chain still has under the recorded hash. */
  async #lastBlockThatHolds(head: bigint): Promise<{ block: bigint; hash: string }> {
    const { db } = this.#options;
    let below = head + 1n;
    for (;;) {
      const checkpoints = await db.query<{ block_number: string; block_hash: string }>(
        `SELECT block_number::text AS block_number, block_hash FROM chain_index_blocks
         WHERE block_number < $1 ORDER BY chain_index_blocks.block_number DESC LIMIT 64`,
        [below.toString()],
      );
      if (checkpoints.length === 0) return { block: this.#beforeDeploy(), hash: '0x' };
      for (const checkpoint of checkpoints) {
        const block = BigInt(checkpoint.block_number);
        if ((await this.#hashOf(block)) === checkpoint.block_hash.toLowerCase())
          return { block, hash: checkpoint.block_hash.toLowerCase() };
        below = block;
      }
    }
  }

  /**
   * Forgets everything above `to.block`: its events, the rows they made (the per-key tables are
   * rebuilt from the events that still hold), the roots, and the confirmations of this node's
   * writes there (back in flight), in one transaction; then a fresh consent view from the result.
   */
  async #rewind(to: { block: bigint; hash: string }, reason: string): Promise<void> {
    const { db, addresses } = this.#options;
    const from = this.#status.block;
    const at = to.block.toString();
    const { dropped, reopened } = await db.transaction(async (tx) => {
      const roots = await tx.query<{ member: string; kind: number; sequence: string; root: string }>(
        `DELETE FROM chain_anchored_roots WHERE block_number > $1
         RETURNING member, kind, sequence::text AS sequence, root`,
        [at],
      );
      await tx.query('DELETE FROM chain_events WHERE block_number > $1', [at]);
      await tx.query('DELETE FROM chain_emergency_access WHERE block_number > $1', [at]);
      await tx.query('DELETE FROM chain_index_blocks WHERE block_number > $1', [at]);
      for (const table of ['chain_members', 'chain_practitioners', 'chain_consent_grants', 'chain_delegates'])
        await tx.query(`DELETE FROM ${table}`);
      const events = await tx.query<{
        block_number: string;
        log_index: number;
        contract: 'registry' | 'consent' | 'anchors';
        event_name: string;
        args: Record<string, unknown>;
        tx_hash: Hex;
      }>(
        `SELECT block_number::text AS block_number, log_index, contract, event_name, args, tx_hash
         FROM chain_events WHERE event_name = ANY($1) ORDER BY chain_events.block_number, log_index`,
        [KEYED_EVENTS],
      );
      for (const e of events)
        await applyLog(
          tx,
          {
            address: addresses[e.contract],
            blockNumber: BigInt(e.block_number),
            logIndex: e.log_index,
            transactionHash: e.tx_hash,
            eventName: e.event_name,
            args: e.args,
          } as DecodedLog,
          addresses,
        );
      // `rewinds` tells the node's other processes (IndexFollower) to load the state afresh.
      await tx.query(
        `INSERT INTO chain_index_state (id, block_number, block_hash, rewinds) VALUES (1, $1, $2, 1)
         ON CONFLICT (id) DO UPDATE SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash,
           rewinds = chain_index_state.rewinds + 1, updated_at = now()`,
        [at, to.hash],
      );
      return {
        dropped: roots.map((r) => ({
          member: r.member,
          kind: Number(r.kind),
          sequence: BigInt(r.sequence),
          root: r.root as Hex,
        })),
        reopened: await reopenOutboxAbove(tx, to.block),
      };
    });
    const consent = new ConsentCache();
    await consent.load(db);
    this.#consent = consent;
    this.#status.block = to.block;
    this.#tipHash = to.hash;
    if (dropped.length > 0) this.#options.onRootsDropped?.(dropped);
    const rewind: IndexerRewind = { at: Date.now(), from, to: to.block, reopened, reason };
    this.#status.rewinds++;
    this.#status.lastRewind = rewind;
    this.#options.onError?.(
      new Error(
        `chain rewound: ${reason}; resumed after block ${to.block}, ${reopened} write(s) back in flight`,
      ),
    );
    this.#options.onRewound?.(rewind);
  }

  async #applyRange(from: bigint, to: bigint): Promise<void> {
    const { publicClient, addresses, db } = this.#options;
    const [block, first, logs, confirmed] = await Promise.all([
      publicClient.getBlock({ blockNumber: to }),
      from === to ? undefined : publicClient.getBlock({ blockNumber: from }),
      publicClient.getLogs({
        address: [addresses.registry, addresses.consent, addresses.anchors],
        fromBlock: from,
        toBlock: to,
      }),
      confirmedOutboxBlocks(db, from, to),
    ]);
    const hash = (block.hash ?? '0x').toLowerCase();
    // The range must extend the indexed block (else the next poll finds where the chain changed).
    const parent = (first ?? block).parentHash.toLowerCase();
    if (this.#status.block > this.#beforeDeploy() && parent !== this.#tipHash) {
      this.#seenHead = '';
      throw new Error(
        `block ${from} does not extend the indexed block ${this.#status.block}; checking again`,
      );
    }
    // This node's writes recorded as confirmed in these blocks must be in them still.
    const changed: Array<{ block: bigint; hash: string }> = [];
    for (const c of confirmed) {
      const now = c.block === to ? hash : await this.#hashOf(c.block);
      if (now !== c.hash.toLowerCase()) changed.push({ block: c.block, hash: now ?? '0x' });
    }
    // The chain may change while the range is read: read the range's last block again.
    if (logs.some((log) => log.removed) || (await this.#hashOf(to)) !== hash)
      throw new Error(`blocks ${from}-${to} changed while being read; reading them again`);
    const decoded = decodeLogs(logs, addresses);
    const reopened = await db.transaction(async (tx) => {
      for (const log of decoded) await applyLog(tx, log, addresses);
      let count = 0;
      for (const c of changed) count += await reopenOutboxInBlock(tx, c.block, c.hash);
      await tx.query(
        `INSERT INTO chain_index_state (id, block_number, block_hash) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash, updated_at = now()`,
        [to.toString(), hash],
      );
      await tx.query(
        `INSERT INTO chain_index_blocks (block_number, block_hash) VALUES ($1, $2)
         ON CONFLICT (block_number) DO UPDATE SET block_hash = EXCLUDED.block_hash`,
        [to.toString(), hash],
      );
      if (++this.#ranges % 256 === 0)
        await tx.query('DELETE FROM chain_index_blocks WHERE block_number < $1', [
          (to - CHECKPOINT_HISTORY).toString(),
        ]);
      return count;
    });
    for (const log of decoded) this.#consent.apply(log.eventName, log.args, log.blockNumber ?? to);
    const { onRootAnchored } = this.#options;
    if (onRootAnchored)
      for (const log of decoded)
        if (log.eventName === 'RootAnchored') onRootAnchored(anchoredRootOf(log.args));
    this.#consent.block = to;
    this.#status.block = to;
    this.#tipHash = hash;
    await this.#consent.refreshHolds(db);
    if (reopened > 0) {
      const rewind: IndexerRewind = {
        at: Date.now(),
        from: to,
        to,
        reopened,
        reason: `confirmed writes in blocks ${changed.map((c) => c.block).join(', ')} are no longer there`,
      };
      this.#status.rewinds++;
      this.#status.lastRewind = rewind;
      this.#options.onRewound?.(rewind);
    }
  }
}

function decodeLogs(logs: Log[], addresses: ContractAddresses): DecodedLog[] {
  const by = (address: Address) => logs.filter((log) => log.address.toLowerCase() === address.toLowerCase());
  const all = [
    ...parseEventLogs({ abi: registryAbi, logs: by(addresses.registry) }),
    ...parseEventLogs({ abi: consentAbi, logs: by(addresses.consent) }),
    ...parseEventLogs({ abi: anchorsAbi, logs: by(addresses.anchors) }),
  ] as unknown as DecodedLog[];
  return all.sort((a, b) =>
    a.blockNumber === b.blockNumber
      ? (a.logIndex ?? 0) - (b.logIndex ?? 0)
      : a.blockNumber! < b.blockNumber!
        ? -1
        : 1,
  );
}

const lower = (value: unknown) => String(value).toLowerCase();

const anchoredRootOf = (a: Record<string, unknown>): AnchoredRoot => ({
  member: lower(a.member),
  kind: Number(a.kind),
  sequence: BigInt(a.sequence as bigint),
  root: lower(a.root) as Hex,
});
const str = (value: unknown) => String(value);

async function applyLog(tx: Queryable, log: DecodedLog, addresses: ContractAddresses): Promise<void> {
  const a = log.args;
  const block = (log.blockNumber ?? 0n).toString();
  const txHash = log.transactionHash ?? '0x';
  const contract =
    log.address.toLowerCase() === addresses.registry.toLowerCase()
      ? 'registry'
      : log.address.toLowerCase() === addresses.consent.toLowerCase()
        ? 'consent'
        : 'anchors';
  await tx.query(
    `INSERT INTO chain_events (block_number, log_index, contract, event_name, args, tx_hash)
     VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING`,
    [
      block,
      log.logIndex ?? 0,
      contract,
      log.eventName,
      JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)),
      txHash,
    ],
  );
  switch (log.eventName) {
    case 'MemberAdmitted':
      await tx.query(
        `INSERT INTO chain_members (address, name, endpoint, active, block_number) VALUES ($1, $2, $3, true, $4)
         ON CONFLICT (address) DO UPDATE SET name = EXCLUDED.name, endpoint = EXCLUDED.endpoint, active = true, block_number = EXCLUDED.block_number`,
        [lower(a.member), str(a.name), str(a.endpoint), block],
      );
      return;
    case 'MemberUpdated':
      await tx.query('UPDATE chain_members SET endpoint = $2, block_number = $3 WHERE address = $1', [
        lower(a.member),
        str(a.endpoint),
        block,
      ]);
      return;
    case 'MemberRemoved':
      await tx.query('UPDATE chain_members SET active = false, block_number = $2 WHERE address = $1', [
        lower(a.member),
        block,
      ]);
      return;
    case 'PractitionerRegistered':
      await tx.query(
        `INSERT INTO chain_practitioners (address, member, role, active, block_number) VALUES ($1, $2, $3, true, $4)
         ON CONFLICT (address) DO UPDATE SET member = EXCLUDED.member, role = EXCLUDED.role, active = true, block_number = EXCLUDED.block_number`,
        [lower(a.practitioner), lower(a.member), str(a.role), block],
      );
      return;
    case 'PractitionerDeactivated':
      await tx.query('UPDATE chain_practitioners SET active = false, block_number = $2 WHERE address = $1', [
        lower(a.practitioner),
        block,
      ]);
      return;
    case 'ConsentGranted':
      await tx.query(
        `INSERT INTO chain_consent_grants (patient, grantee, custodian, resource_types, purposes, not_before, expiry, nonce, signer, block_number, tx_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (patient, grantee, custodian) DO UPDATE SET resource_types = EXCLUDED.resource_types,
           purposes = EXCLUDED.purposes, not_before = EXCLUDED.not_before, expiry = EXCLUDED.expiry, nonce = EXCLUDED.nonce,
           signer = EXCLUDED.signer, block_number = EXCLUDED.block_number, tx_hash = EXCLUDED.tx_hash`,
        [
          lower(a.patient),
          lower(a.grantee),
          lower(a.custodian),
          str(a.resourceTypes),
          str(a.purposes),
          str(a.notBefore),
          str(a.expiry),
          str(a.nonce),
          lower(a.signer),
          block,
          txHash,
        ],
      );
      return;
    case 'ConsentRevoked':
      await tx.query(
        `UPDATE chain_consent_grants SET expiry = 0, nonce = $4, block_number = $5, tx_hash = $6
         WHERE patient = $1 AND grantee = $2 AND custodian = $3`,
        [lower(a.patient), lower(a.grantee), lower(a.custodian), str(a.nonce), block, txHash],
      );
      return;
    case 'DelegateSet':
      await tx.query(
        `INSERT INTO chain_delegates (patient, delegate, until, block_number) VALUES ($1, $2, $3, $4)
         ON CONFLICT (patient, delegate) DO UPDATE SET until = EXCLUDED.until, block_number = EXCLUDED.block_number`,
        [lower(a.patient), lower(a.delegate), str(a.until), block],
      );
      return;
    case 'EmergencyAccessOpened':
      await tx.query(
        `INSERT INTO chain_emergency_access (patient, practitioner, member, reason_hash, expires_at, block_number, tx_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [
          lower(a.patient),
          lower(a.practitioner),
          lower(a.member),
          str(a.reasonHash),
          str(a.expiresAt),
          block,
          txHash,
        ],
      );
      return;
    case 'RootAnchored':
      await tx.query(
        `INSERT INTO chain_anchored_roots (member, kind, sequence, leaf_count, root, block_number, tx_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
        [
          lower(a.member),
          Number(a.kind),
          str(a.sequence),
          Number(a.leafCount),
          str(a.root) as Hex,
          block,
          txHash,
        ],
      );
      return;
  }
}
