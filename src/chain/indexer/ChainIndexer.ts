/**
 * Follows Registry, Consent and Anchors events into the local cache tables and an
 * in-memory consent view, so a consent decision costs no RPC round trip. Each block
 * range is applied in one database transaction with the block it is current to, so
 * after a restart it resumes exactly where it stopped. Anchored roots also go, once their range is
 * applied, to `onRootAnchored` (the vault's ChainRootSet, which never reads them back from
 * the database).
 */
import { type Address, type Hex, type Log, type PublicClient, parseEventLogs } from 'viem';
import type { Db, Queryable } from '../../store/db.ts';
import type { ContractAddresses } from '../contractAddresses.ts';
import { anchorsAbi, consentAbi, registryAbi } from '../generated/contracts.ts';
import { PollingLoop } from '../PollingLoop.ts';
import type { AnchoredRoot } from './ChainRootSet.ts';
import { ConsentCache } from './ConsentCache.ts';

export interface ChainIndexerOptions {
  db: Db;
  publicClient: PublicClient;
  addresses: ContractAddresses;
  pollIntervalMs?: number;
  /** Blocks per eth_getLogs call while catching up. */
  chunkSize?: bigint;
  onError?: (error: unknown) => void;
  /** Every `RootAnchored` event (any member), after the block range it is in is applied. */
  onRootAnchored?: (root: AnchoredRoot) => void;
}

export interface IndexerStatus {
  /** Last block whose events are applied. */
  block: bigint;
  /** Chain head at the last successful poll. */
  head: bigint;
  /** When the last poll succeeded (ms since epoch); 0 before the first. */
  polledAt: number;
}

type DecodedLog = Log<bigint, number, false> & { eventName: string; args: Record<string, unknown> };

export class ChainIndexer {
  readonly consent = new ConsentCache();
  readonly #options: ChainIndexerOptions;
  #status: IndexerStatus = { block: -1n, head: -1n, polledAt: 0 };
  readonly #loop: PollingLoop;
  #listeners = new Set<() => void>();

  constructor(options: ChainIndexerOptions) {
    this.#options = options;
    this.#loop = new PollingLoop(() => this.poll(), options.pollIntervalMs ?? 100, options.onError);
  }

  get status(): IndexerStatus {
    return { ...this.#status };
  }

  /** Loads the cache from the database and catches up to the chain head once. */
  async init(): Promise<void> {
    const rows = await this.#options.db.query<{ block_number: string }>(
      'SELECT block_number::text AS block_number FROM chain_index_state WHERE id = 1',
    );
    const stored = rows[0] ? BigInt(rows[0].block_number) : BigInt(this.#options.addresses.deployBlock) - 1n;
    this.#status.block = stored;
    await this.consent.load(this.#options.db);
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

  /** Applies every block from the last applied one up to the current head. */
  async poll(): Promise<void> {
    const { publicClient } = this.#options;
    const head = await publicClient.getBlockNumber({ cacheTime: 0 });
    const chunk = this.#options.chunkSize ?? 2000n;
    while (this.#status.block < head) {
      const from = this.#status.block + 1n;
      const to = from + chunk - 1n < head ? from + chunk - 1n : head;
      await this.#applyRange(from, to);
    }
    this.#status.head = head;
    this.#status.polledAt = Date.now();
    for (const listener of [...this.#listeners]) listener();
  }

  async #applyRange(from: bigint, to: bigint): Promise<void> {
    const { publicClient, addresses, db } = this.#options;
    const [logs, block] = await Promise.all([
      publicClient.getLogs({
        address: [addresses.registry, addresses.consent, addresses.anchors],
        fromBlock: from,
        toBlock: to,
      }),
      publicClient.getBlock({ blockNumber: to }),
    ]);
    const decoded = decodeLogs(logs, addresses);
    await db.transaction(async (tx) => {
      for (const log of decoded) await applyLog(tx, log, addresses);
      await tx.query(
        `INSERT INTO chain_index_state (id, block_number, block_hash) VALUES (1, $1, $2)
         ON CONFLICT (id) DO UPDATE SET block_number = EXCLUDED.block_number, block_hash = EXCLUDED.block_hash, updated_at = now()`,
        [to.toString(), block.hash ?? '0x'],
      );
    });
    for (const log of decoded) this.consent.apply(log.eventName, log.args, log.blockNumber ?? to);
    const { onRootAnchored } = this.#options;
    if (onRootAnchored)
      for (const log of decoded)
        if (log.eventName === 'RootAnchored') onRootAnchored(anchoredRootOf(log.args));
    this.consent.block = to;
    this.#status.block = to;
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
