/**
 * Sends the outbox's chain writes exactly once, pipelined, in priority order, surviving restarts
 * and a chain that forgets.
 *
 * Several writes are in flight at once with consecutive nonces of the node account (up to
 * `maxInFlight`, of which anchors leave an eighth, at least one, free for consent changes). Open entries are signed in priority order: revocations first, then other
 * consent changes, registry writes, and anchors last (anchors keep their id order: sequence n+1 is
 * only valid after n). Per entry: (1) simulate (`eth_estimateGas`, against `pending` while earlier
 * writes are in flight); a revert with nothing of ours in flight marks it `failed` with the
 * contract's error; (2) in one database transaction, take the next nonce (the chain's pending
 * count, or one past the highest nonce in flight), sign, and store the signed bytes and hash
 * (`signed`); (3) broadcast them; (4) once the chain's nonce has passed it, find its receipt, and
 * once that block is final (../finality.ts), record `confirmed` (or, when it reverted, simulate
 * again: a write whose turn only came later goes back to be signed afresh; one the contract
 * refuses is `failed`).
 *
 * Recovery: a crash after (2) rebroadcasts the identical bytes on restart (same hash, same nonce:
 * the chain accepts them at most once); a write the chain lost (a pool emptied by a restart, a
 * block dropped: the indexer reopens those) is rebroadcast while its nonce is free, and signed
 * afresh with the next nonce once another transaction took its nonce. The write next in line
 * that stays pending longer than `feeBumpAfterMs` is replaced by the same write with fees
 * raised by a quarter (every hash it was broadcast under is kept and checked for a receipt). A
 * nonce gap below the lowest write in flight that no entry holds (a stuck nonce) is filled with
 * a zero-value transfer to the node itself.
 */
import {
  type Abi,
  type AbiFunction,
  type Account,
  BaseError,
  type Chain,
  ContractFunctionRevertedError,
  encodeFunctionData,
  type Hex,
  keccak256,
  type PublicClient,
  parseTransaction,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  type TransactionSerializable,
  type Transport,
  type WalletClient,
} from 'viem';
import type { Db } from '../../store/db.ts';
import type { ContractAddresses } from '../contractAddresses.ts';
import { contractFor } from '../contractFor.ts';
import { type Finality, finalBlockNumber } from '../finality.ts';
import { PollingLoop } from '../PollingLoop.ts';
import type { OutboxContract } from './enqueueChainWrite.ts';

export type OutboxCrashPoint = 'after-sign' | 'after-broadcast';

export interface OutboxWorkerOptions {
  db: Db;
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  addresses: ContractAddresses;
  /** A write counts as confirmed once its block is final under this setting. Default: depth 1. */
  finality?: Finality;
  /** Writes in flight at once. Default 64. */
  maxInFlight?: number;
  /** The write next in line still pending after this long is re-signed with higher fees. Default 30 s. */
  feeBumpAfterMs?: number;
  /** A write still pending is broadcast again this often (a restarted chain node lost its pool). Default 3 s. */
  rebroadcastAfterMs?: number;
  pollIntervalMs?: number;
  /** How often it looks while writes are in flight or waiting (mined, or their turn come). Default 250 ms. */
  busyPollIntervalMs?: number;
  /** Test hook: called at the named point; a crash test kills the process there. */
  onStep?: (point: OutboxCrashPoint, entryId: bigint) => void | Promise<void>;
  onError?: (error: unknown) => void;
}

interface OutboxRow {
  id: string;
  contract: OutboxContract;
  function_name: string;
  args: (string | number | boolean | string[])[];
  status: 'pending' | 'signed';
  nonce: string | null;
  raw_tx: Hex | null;
  tx_hash: Hex | null;
  /** ms since epoch */
  signed_ms: number | null;
  broadcast_ms: number | null;
  /** When a rewind of the chain last put it back in flight (ms since epoch). */
  reopened_ms: number | null;
  attempts: number;
}

/** Priority of an open entry (lower first): revocations, other consent, registry, anchors. */
const PRIORITY_SQL = `CASE WHEN contract = 'consent' AND function_name = 'revoke' THEN 0
  WHEN contract = 'consent' THEN 1 WHEN contract = 'registry' THEN 2 ELSE 3 END`;

/** A write reverted on chain is simulated and re-signed at most this many times, then `failed`. */
const MAX_ATTEMPTS = 8;

export class OutboxWorker {
  readonly #options: OutboxWorkerOptions;
  readonly #loop: PollingLoop;
  /** Whether the last step left writes in flight or waiting: the loop looks again soon. */
  #busy = false;

  constructor(options: OutboxWorkerOptions) {
    this.#options = options;
    this.#loop = new PollingLoop(
      async () => ((await this.processNext()) ? true : this.#busy ? 'busy' : false),
      options.pollIntervalMs ?? 200,
      options.onError,
      options.busyPollIntervalMs ?? 250,
    );
  }

  start(): void {
    this.#loop.start();
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  /** Asks the worker to look at the outbox now rather than at the next poll. */
  notify(): void {
    this.#loop.wake();
  }

  /** Runs steps until no entry is open (one-shot drivers and tests); throws after `timeoutMs`. */
  async drain(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const progressed = await this.processNext();
      const open = await this.#options.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM chain_outbox WHERE status IN ('pending', 'signed')",
      );
      if ((open[0]?.n ?? 0) === 0) return;
      if (Date.now() > deadline) throw new Error(`outbox not drained in ${timeoutMs} ms`);
      if (!progressed) await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * One step: settles the writes in flight the chain has mined, repairs what the chain lost, and
   * signs and broadcasts the next open entries up to the in-flight limit. True when it changed
   * the state of an entry (the loop then runs again at once).
   */
  async processNext(): Promise<boolean> {
    const { db, publicClient, walletClient } = this.#options;
    const rows = await db.query<OutboxRow>(
      `SELECT id::text AS id, contract, function_name, args, status, nonce::text AS nonce, raw_tx, tx_hash,
         (extract(epoch FROM signed_at) * 1000)::float8 AS signed_ms,
         (extract(epoch FROM broadcast_at) * 1000)::float8 AS broadcast_ms,
         (extract(epoch FROM reopened_at) * 1000)::float8 AS reopened_ms, attempts
       FROM chain_outbox WHERE status IN ('pending', 'signed')
       ORDER BY status DESC, chain_outbox.nonce, ${PRIORITY_SQL}, chain_outbox.id LIMIT $1`,
      [String((this.#options.maxInFlight ?? 64) * 2 + 64)],
    );
    this.#busy = rows.length > 0;
    if (rows.length === 0) return false;
    const sender = walletClient.account.address;
    const [head, latestNonce] = await Promise.all([
      publicClient.getBlockNumber({ cacheTime: 0 }),
      publicClient.getTransactionCount({ address: sender, blockTag: 'latest' }),
    ]);
    const final = await finalBlockNumber(publicClient, this.#options.finality ?? { depth: 1 }, head);
    let progressed = false;
    const inFlight = rows.filter((r) => r.status === 'signed' && r.raw_tx && r.tx_hash && r.nonce !== null);
    const stillInFlight: OutboxRow[] = [];
    for (const row of inFlight) {
      const outcome = await this.#settle(row, { head, final, latestNonce });
      if (outcome === 'in-flight') stillInFlight.push(row);
      else if (outcome !== 'waiting') progressed = true;
    }
    await this.#fillNonceGap(stillInFlight, latestNonce);
    const pending = rows.filter((r) => r.status === 'pending' || (r.status === 'signed' && !r.raw_tx));
    // Per stream (streamOf), the open entries in id order: an entry is valid only after the one before.
    const streams = new Map<string, OutboxRow[]>();
    for (const row of rows) {
      const stream = streamOf(row);
      if (stream === undefined) continue;
      const list = streams.get(stream) ?? [];
      list.push(row);
      streams.set(stream, list);
    }
    for (const list of streams.values()) list.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
    const sent = new Set(stillInFlight);
    const maxInFlight = this.#options.maxInFlight ?? 64;
    // Anchors never take the last slots: a consent change (a revocation first) relayed while
    // anchors are queued is signed at once, not after the anchors in flight are mined.
    const reserved = maxInFlight > 1 ? Math.max(1, Math.floor(maxInFlight / 8)) : 0;
    let free = maxInFlight - stillInFlight.length;
    for (const row of pending) {
      if (free <= 0) break;
      if (row.contract === 'anchors' && free <= reserved) continue;
      const stream = streamOf(row);
      const list = stream === undefined ? undefined : streams.get(stream);
      const before = list?.[list.indexOf(row) - 1];
      // The previous write of its stream is open: this one waits until that one's bytes are out
      // (signed with a lower nonce and broadcast), and is then simulated against the pending state.
      if (before && !sent.has(before)) continue;
      const outcome = await this.#signAndSend(
        row,
        stillInFlight.length > 0 || progressed || before !== undefined,
      );
      if (outcome === 'blocked') continue; // its stream's later writes wait behind it (above)
      progressed = true;
      if (outcome === 'signed') {
        free--;
        stillInFlight.push(row);
        sent.add(row);
      }
    }
    return progressed;
  }

  /**
   * A write in flight: confirmed/failed once mined and final; back to be signed when its nonce
   * went to another transaction; else rebroadcast (or fee-bumped) when due.
   */
  async #settle(
    row: OutboxRow,
    chain: { head: bigint; final: bigint; latestNonce: number },
  ): Promise<'settled' | 'resign' | 'waiting' | 'in-flight'> {
    const { db } = this.#options;
    const id = BigInt(row.id);
    const nonce = Number(row.nonce);
    if (nonce >= chain.latestNonce) {
      await this.#keepAlive(row, nonce === chain.latestNonce);
      return 'in-flight';
    }
    const receipt = await this.#receiptOf(row);
    if (!receipt) {
      // The nonce was used by another transaction: none of this entry's hashes can be mined now.
      await db.query(
        `UPDATE chain_outbox SET status = 'pending', raw_tx = NULL, tx_hash = NULL, nonce = NULL,
           last_error = 'its nonce was taken by another transaction: signing again' WHERE id = $1 AND status = 'signed'`,
        [row.id],
      );
      return 'resign';
    }
    if (receipt.blockNumber > chain.final || receipt.blockNumber > chain.head) return 'waiting';
    if (receipt.status !== 'success') {
      const reason = await this.#simulate(row).then(
        () => undefined,
        (error: unknown) => revertReason(error) ?? 'reverted on chain',
      );
      // Valid now (its turn only came later, reordered after a rewind), or waiting for an earlier
      // write of its stream that is not on this chain yet: signed again, after that one.
      const waiting = reason !== undefined && (await this.#waitsForItsStream(row, reason));
      if (waiting || (reason === undefined && row.attempts < MAX_ATTEMPTS)) {
        await db.query(
          `UPDATE chain_outbox SET status = 'pending', raw_tx = NULL, tx_hash = NULL, nonce = NULL,
             last_error = $2 WHERE id = $1 AND status = 'signed'`,
          [
            row.id,
            waiting
              ? `reverted (${reason}) before an earlier write of its sequence was on chain: signing again after it`
              : 'reverted out of turn: signing again',
          ],
        );
        return 'resign';
      }
      await this.#record(id, 'failed', receipt, reason ?? 'reverted on chain');
      return 'settled';
    }
    await this.#record(id, 'confirmed', receipt, null);
    return 'settled';
  }

  async #record(
    id: bigint,
    status: 'confirmed' | 'failed',
    receipt: TransactionReceipt,
    error: string | null,
  ): Promise<void> {
    await this.#options.db.query(
      `UPDATE chain_outbox SET status = $2, block_number = $3, block_hash = $4, gas_used = $5, tx_hash = $6,
         confirmed_at = now(), last_error = $7
       WHERE id = $1`,
      [
        id.toString(),
        status,
        receipt.blockNumber.toString(),
        receipt.blockHash.toLowerCase(),
        receipt.gasUsed.toString(),
        receipt.transactionHash,
        error,
      ],
    );
  }

  /** The receipt of any hash this entry was broadcast under, a successful one first. */
  async #receiptOf(row: OutboxRow): Promise<TransactionReceipt | undefined> {
    const { db, publicClient } = this.#options;
    const earlier = await db.query<{ tx_hash: Hex }>(
      'SELECT DISTINCT tx_hash FROM chain_outbox_broadcast WHERE outbox_id = $1',
      [row.id],
    );
    const hashes = [...new Set([row.tx_hash, ...earlier.map((e) => e.tx_hash)])].filter((h): h is Hex => !!h);
    let reverted: TransactionReceipt | undefined;
    for (const hash of hashes) {
      try {
        const receipt = await publicClient.getTransactionReceipt({ hash });
        if (receipt.status === 'success') return receipt;
        reverted ??= receipt;
      } catch (error) {
        if (!(error instanceof TransactionReceiptNotFoundError)) throw error;
      }
    }
    return reverted;
  }

  /** A write not mined yet: broadcast again when due; the one next in line fee-bumped when stuck. */
  async #keepAlive(row: OutboxRow, nextInLine: boolean): Promise<void> {
    const now = Date.now();
    const bumpAfter = this.#options.feeBumpAfterMs ?? 30_000;
    const since = Math.max(row.signed_ms ?? 0, row.reopened_ms ?? 0);
    if (nextInLine && row.signed_ms !== null && now - since > bumpAfter) {
      const bumped = await this.#bumpFees(row);
      if (bumped) return;
    }
    const every = this.#options.rebroadcastAfterMs ?? 3000;
    if (row.broadcast_ms !== null && now - row.broadcast_ms < every) return;
    await this.#broadcast(BigInt(row.id), { raw: row.raw_tx as Hex, hash: row.tx_hash as Hex });
  }

  /** Replaces the pending transaction by the same one with fees a quarter higher (same nonce). */
  async #bumpFees(row: OutboxRow): Promise<boolean> {
    const { db, publicClient, walletClient } = this.#options;
    const old = parseTransaction(row.raw_tx as Hex);
    const raise = (value: bigint | undefined, market: bigint | undefined) => {
      const raised = ((value ?? 0n) * 5n) / 4n + 1n;
      return market !== undefined && market > raised ? market : raised;
    };
    let request: Parameters<typeof walletClient.signTransaction>[0];
    if (old.maxFeePerGas !== undefined) {
      if (old.maxFeePerGas === 0n) return false; // a zero-fee network: fees do not decide inclusion
      const market = await publicClient.estimateFeesPerGas().catch(() => undefined);
      const maxPriorityFeePerGas = raise(old.maxPriorityFeePerGas, market?.maxPriorityFeePerGas);
      const maxFeePerGas = raise(old.maxFeePerGas, market?.maxFeePerGas);
      request = {
        ...old,
        type: 'eip1559',
        maxFeePerGas: maxFeePerGas > maxPriorityFeePerGas ? maxFeePerGas : maxPriorityFeePerGas,
        maxPriorityFeePerGas,
        chain: walletClient.chain,
        account: walletClient.account,
      } as never;
    } else {
      if (!old.gasPrice) return false;
      const market = await publicClient.getGasPrice().catch(() => undefined);
      request = {
        ...old,
        type: 'legacy',
        gasPrice: raise(old.gasPrice, market),
        chain: walletClient.chain,
        account: walletClient.account,
      } as never;
    }
    const raw = await walletClient.signTransaction(request);
    const hash = keccak256(raw);
    await db.query(
      `UPDATE chain_outbox SET raw_tx = $2, tx_hash = $3, signed_at = now(), fee_bumps = fee_bumps + 1
       WHERE id = $1 AND status = 'signed'`,
      [row.id, raw, hash],
    );
    this.#options.onError?.(
      new Error(`outbox entry ${row.id} pending too long: fees raised (nonce ${old.nonce})`),
    );
    await this.#broadcast(BigInt(row.id), { raw, hash });
    return true;
  }

  /**
   * Nonces between the chain's and the lowest in flight would hold every later write back for ever.
   * A nonce an entry's stored bytes hold (a write the chain forgot, recorded as confirmed until the
   * indexer notices the rewind) gets those bytes again: the chain then has the same writes in the
   * same order. Only a nonce no entry holds (a stuck nonce) is filled with a zero-value transfer to
   * the node itself.
   */
  async #fillNonceGap(inFlight: OutboxRow[], latestNonce: number): Promise<void> {
    if (inFlight.length === 0) return;
    const held = new Set(inFlight.map((r) => Number(r.nonce)));
    const lowest = Math.min(...held);
    if (lowest <= latestNonce) return;
    const { db, publicClient, walletClient } = this.#options;
    const upTo = Math.min(lowest, latestNonce + 16);
    const holders = await db.query<{ id: string; nonce: string; raw_tx: Hex; tx_hash: Hex }>(
      `SELECT id::text AS id, nonce::text AS nonce, raw_tx, tx_hash FROM chain_outbox
       WHERE sender = $1 AND nonce >= $2 AND nonce < $3 AND raw_tx IS NOT NULL ORDER BY chain_outbox.nonce`,
      [walletClient.account.address, String(latestNonce), String(upTo)],
    );
    const holderOf = new Map(holders.map((h) => [Number(h.nonce), h]));
    for (let nonce = latestNonce; nonce < upTo; nonce++) {
      if (held.has(nonce)) continue;
      const holder = holderOf.get(nonce);
      if (holder) {
        await this.#broadcast(BigInt(holder.id), { raw: holder.raw_tx, hash: holder.tx_hash }).catch(
          (error: unknown) => this.#options.onError?.(error),
        );
        continue;
      }
      const request = await walletClient.prepareTransactionRequest({
        to: walletClient.account.address,
        value: 0n,
        nonce,
        chain: walletClient.chain,
        account: walletClient.account,
      });
      const raw = await walletClient.signTransaction(request);
      this.#options.onError?.(
        new Error(`nonce ${nonce} held no write (a stuck nonce): filled with a transfer`),
      );
      await publicClient.sendRawTransaction({ serializedTransaction: raw }).catch(() => {});
    }
  }

  /**
   * Whether a write that reverted with `reason` waits for an earlier write of its stream rather
   * than failing: that write is still open, or recorded as confirmed in a block the chain no
   * longer has (a rewind the indexer has not noticed yet); for an anchor, the sequence the
   * contract expects is held by an entry that has not failed.
   */
  async #waitsForItsStream(row: OutboxRow, reason: string): Promise<boolean> {
    const { db, publicClient } = this.#options;
    const stream = streamFilter(row);
    if (stream === undefined) return false;
    const [before] = await db.query<{ status: string; tx_hash: Hex | null; block_hash: string | null }>(
      `SELECT status, tx_hash, block_hash FROM chain_outbox
       WHERE ${stream.sql} AND id < $1 AND status <> 'failed' ORDER BY id DESC LIMIT 1`,
      [row.id, ...stream.params],
    );
    if (before && (before.status === 'pending' || before.status === 'signed')) return true;
    if (before?.status === 'confirmed' && before.tx_hash) {
      const receipt = await publicClient
        .getTransactionReceipt({ hash: before.tx_hash })
        .catch((error: unknown) => {
          if (error instanceof TransactionReceiptNotFoundError) return undefined;
          throw error;
        });
      if (!receipt || receipt.blockHash.toLowerCase() !== before.block_hash?.toLowerCase()) return true;
    }
    const mismatch = /^AnchorsSequenceMismatch\((\d+), (\d+)\)$/.exec(reason);
    if (row.contract === 'anchors' && mismatch && BigInt(mismatch[1]!) < BigInt(mismatch[2]!)) {
      const holder = await db.query(
        `SELECT 1 FROM chain_outbox WHERE contract = 'anchors' AND function_name = 'anchor'
           AND args->>0 = $1 AND args->>1 = $2 AND status <> 'failed' LIMIT 1`,
        [String(row.args[0]), mismatch[1]!],
      );
      return holder.length > 0;
    }
    return false;
  }

  /** Simulates the entry's call; throws what the chain throws. Returns the gas estimate. */
  async #simulate(row: OutboxRow, againstPending = false): Promise<bigint> {
    const { publicClient, walletClient, addresses } = this.#options;
    const { address, abi } = contractFor(addresses, row.contract);
    return publicClient.estimateContractGas({
      address,
      abi,
      functionName: row.function_name,
      args: coerceArgs(abi, row.function_name, row.args),
      // The bare address, not the local account: with a local account viem first prepares a
      // whole transaction (nonce, fees) and anvil then evaluates the estimate at a stale state.
      account: walletClient.account.address,
      ...(againstPending ? { blockTag: 'pending' as const } : {}),
    });
  }

  /**
   * Simulates, signs and broadcasts one open entry. 'blocked': it reverts while writes of ours
   * are in flight (it may depend on them): left open for a later step.
   */
  async #signAndSend(
    row: OutboxRow,
    writesInFlight: boolean,
  ): Promise<'signed' | 'settled' | 'failed' | 'blocked'> {
    const { db } = this.#options;
    const id = BigInt(row.id);
    let gas: bigint;
    try {
      gas = await this.#simulate(row, writesInFlight);
    } catch (error) {
      const reason = revertReason(error);
      if (reason === undefined) throw error; // transport trouble: retry later
      if (writesInFlight) return 'blocked';
      // An earlier hash of this entry already mined (and final): it is done.
      const mined = await this.#receiptOf(row);
      if (mined?.status === 'success') {
        const head = await this.#options.publicClient.getBlockNumber({ cacheTime: 0 });
        const final = await finalBlockNumber(
          this.#options.publicClient,
          this.#options.finality ?? { depth: 1 },
          head,
        );
        if (mined.blockNumber > final) return 'blocked';
        await this.#record(id, 'confirmed', mined, null);
        return 'settled';
      }
      if (await this.#waitsForItsStream(row, reason)) {
        await db.query('UPDATE chain_outbox SET last_error = $2 WHERE id = $1', [
          id.toString(),
          `waiting for an earlier write of its sequence to be on chain (${reason})`,
        ]);
        return 'blocked';
      }
      await db.query(
        `UPDATE chain_outbox SET status = 'failed', last_error = $2, attempts = attempts + 1 WHERE id = $1`,
        [id.toString(), reason],
      );
      return 'failed';
    }
    const signed = await this.#sign(id, row, gas);
    await this.#options.onStep?.('after-sign', id);
    await this.#broadcast(id, signed);
    await this.#options.onStep?.('after-broadcast', id);
    row.nonce = String(signed.nonce);
    return 'signed';
  }

  async #sign(id: bigint, row: OutboxRow, gas: bigint): Promise<{ raw: Hex; hash: Hex; nonce: number }> {
    const { db, publicClient, walletClient, addresses } = this.#options;
    const { address, abi } = contractFor(addresses, row.contract);
    const data = encodeFunctionData({
      abi,
      functionName: row.function_name,
      args: coerceArgs(abi, row.function_name, row.args),
    });
    const sender = walletClient.account.address;
    // Every chain call before the transaction: a hung chain must not hold the database (PGlite has
    // one connection; every request would wait behind it). The nonce is decided inside it.
    const [onChain, template] = await Promise.all([
      publicClient.getTransactionCount({ address: sender, blockTag: 'pending' }),
      walletClient.prepareTransactionRequest({
        to: address,
        data,
        nonce: 0,
        gas: (gas * 12n) / 10n,
        chain: walletClient.chain,
        account: walletClient.account,
      }),
    ]);
    return db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(7316003)');
      const current = await tx.query<{
        status: string;
        raw_tx: Hex | null;
        tx_hash: Hex | null;
        nonce: string;
      }>('SELECT status, raw_tx, tx_hash, nonce::text AS nonce FROM chain_outbox WHERE id = $1 FOR UPDATE', [
        id.toString(),
      ]);
      const existing = current[0];
      if (existing?.status === 'signed' && existing.raw_tx && existing.tx_hash) {
        // another worker got here first
        return { raw: existing.raw_tx, hash: existing.tx_hash, nonce: Number(existing.nonce) };
      }
      const highest = await tx.query<{ nonce: string | null }>(
        `SELECT max(nonce)::text AS nonce FROM chain_outbox WHERE status = 'signed' AND sender = $1 AND raw_tx IS NOT NULL`,
        [sender],
      );
      // Never a nonce signed before: after a rewind the chain's count is back below writes the
      // indexer has not reopened yet, whose stored bytes must keep their nonces (#fillNonceGap).
      const recorded = await tx.query<{ next_nonce: string }>(
        'SELECT next_nonce::text AS next_nonce FROM chain_sender_nonce WHERE sender = $1',
        [sender],
      );
      const inFlight =
        highest[0]?.nonce === null || highest[0]?.nonce === undefined ? -1 : Number(highest[0].nonce);
      const nonce = Math.max(onChain, inFlight + 1, Number(recorded[0]?.next_nonce ?? 0));
      const raw = await signOffline(walletClient, { ...template, nonce });
      const hash = keccak256(raw);
      await tx.query(
        `INSERT INTO chain_sender_nonce (sender, next_nonce) VALUES ($1, $2)
         ON CONFLICT (sender) DO UPDATE SET next_nonce = EXCLUDED.next_nonce`,
        [sender, String(nonce + 1)],
      );
      await tx.query(
        `UPDATE chain_outbox SET status = 'signed', sender = $2, nonce = $3, raw_tx = $4, tx_hash = $5,
           signed_at = now(), broadcast_at = NULL, attempts = attempts + 1 WHERE id = $1`,
        [id.toString(), sender, String(nonce), raw, hash],
      );
      return { raw, hash, nonce };
    });
  }

  async #broadcast(id: bigint, signed: { raw: Hex; hash: Hex }): Promise<void> {
    const { db, publicClient } = this.#options;
    try {
      await publicClient.sendRawTransaction({ serializedTransaction: signed.raw });
    } catch (error) {
      // Already in the pool or already mined: settling (receipt, nonce) decides what it became.
      const message = error instanceof Error ? error.message.toLowerCase() : '';
      if (!/already known|nonce too low|already imported|known transaction|replacement/.test(message))
        throw error;
    }
    await db.query(
      `WITH b AS (INSERT INTO chain_outbox_broadcast (outbox_id, tx_hash) VALUES ($1, $2))
       UPDATE chain_outbox SET broadcast_at = now() WHERE id = $1`,
      [id.toString(), signed.hash],
    );
  }
}

/** Signs with the node's local key, without a chain call (viem's signTransaction asks the chain id). */
async function signOffline(
  walletClient: WalletClient<Transport, Chain, Account>,
  request: Record<string, unknown>,
): Promise<Hex> {
  const { account, chain } = walletClient;
  if (!account.signTransaction) throw new Error('the node account cannot sign locally');
  const { account: _account, chain: _chain, from: _from, ...transaction } = request;
  return account.signTransaction({ ...transaction, chainId: chain.id } as TransactionSerializable, {
    serializer: chain.serializers?.transaction,
  });
}

/**
 * The ordered stream a write belongs to, if any: it is valid on chain only after the stream's
 * previous write. Anchors of one kind (contiguous sequences), the grants and revocations of one
 * consent key and the delegations of one pair (each signed with the key's next nonce).
 */
function streamOf(row: Pick<OutboxRow, 'contract' | 'function_name' | 'args'>): string | undefined {
  const filter = streamFilter(row);
  return filter === undefined ? undefined : `${filter.kind}:${filter.params.join(':')}`;
}

function streamFilter(
  row: Pick<OutboxRow, 'contract' | 'function_name' | 'args'>,
): { kind: string; sql: string; params: string[] } | undefined {
  const a = row.args.map((v) => String(v).toLowerCase());
  if (row.contract === 'anchors' && row.function_name === 'anchor')
    return {
      kind: 'anchors',
      sql: `contract = 'anchors' AND function_name = 'anchor' AND args->>0 = $2`,
      params: [a[0]!],
    };
  if (row.contract === 'consent' && (row.function_name === 'grant' || row.function_name === 'revoke'))
    return {
      kind: 'consent',
      sql: `contract = 'consent' AND function_name IN ('grant', 'revoke')
        AND lower(args->>0) = $2 AND lower(args->>1) = $3 AND lower(args->>2) = $4`,
      params: [a[0]!, a[1]!, a[2]!],
    };
  if (row.contract === 'consent' && row.function_name === 'setDelegate')
    return {
      kind: 'delegate',
      sql: `contract = 'consent' AND function_name = 'setDelegate' AND lower(args->>0) = $2 AND lower(args->>1) = $3`,
      params: [a[0]!, a[1]!],
    };
  return undefined;
}

/** JSON args back to ABI values: every integer type as bigint, everything else as stored. */
function coerceArgs(abi: Abi, functionName: string, args: OutboxRow['args']): unknown[] {
  const fn = abi.find((item): item is AbiFunction => item.type === 'function' && item.name === functionName);
  if (!fn) throw new Error(`outbox entry names unknown function ${functionName}`);
  return fn.inputs.map((input, i) => {
    const value = args[i];
    return /^u?int\d*$/.test(input.type) ? BigInt(value as string | number) : value;
  });
}

/** The contract's custom error name (or revert reason) if the call reverted; undefined for other failures. */
export function revertReason(error: unknown): string | undefined {
  if (!(error instanceof BaseError)) return undefined;
  const reverted = error.walk((e) => e instanceof ContractFunctionRevertedError);
  if (reverted instanceof ContractFunctionRevertedError) {
    const data = reverted.data;
    if (data?.errorName) {
      const args = (data.args ?? []).map((a) => (typeof a === 'bigint' ? a.toString() : String(a)));
      return args.length > 0 ? `${data.errorName}(${args.join(', ')})` : data.errorName;
    }
    return reverted.reason ?? reverted.shortMessage;
  }
  const message = error.message;
  return /revert/i.test(message) ? error.shortMessage : undefined;
}
