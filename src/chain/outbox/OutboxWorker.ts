/**
 * Sends the outbox's chain writes exactly once, pipelined, in priority order, surviving restarts
 * and a chain that forgets.
 *
 * Several writes are in flight at once with consecutive nonces of the node account (up to
 * `maxInFlight`). Open entries are signed in priority order: revocations first, then other
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

  constructor(options: OutboxWorkerOptions) {
    this.#options = options;
    this.#loop = new PollingLoop(() => this.processNext(), options.pollIntervalMs ?? 200, options.onError);
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
         (extract(epoch FROM broadcast_at) * 1000)::float8 AS broadcast_ms, attempts
       FROM chain_outbox WHERE status IN ('pending', 'signed')
       ORDER BY status DESC, nonce, ${PRIORITY_SQL}, id LIMIT $1`,
      [String((this.#options.maxInFlight ?? 64) * 2 + 64)],
    );
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
    let free = (this.#options.maxInFlight ?? 64) - stillInFlight.length;
    for (const row of pending) {
      if (free <= 0) break;
      const outcome = await this.#signAndSend(row, stillInFlight.length > 0 || progressed);
      if (outcome === 'blocked') {
        if (row.contract === 'anchors') break; // later anchors depend on this one
        continue;
      }
      progressed = true;
      if (outcome === 'signed') {
        free--;
        stillInFlight.push(row);
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
      if (reason === undefined && row.attempts < MAX_ATTEMPTS) {
        // It was valid only later than its turn (reordered after a rewind): sign it again.
        await db.query(
          `UPDATE chain_outbox SET status = 'pending', raw_tx = NULL, tx_hash = NULL, nonce = NULL,
             last_error = 'reverted out of turn: signing again' WHERE id = $1 AND status = 'signed'`,
          [row.id],
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
    const hashes = [...new Set([row.tx_hash as Hex, ...earlier.map((e) => e.tx_hash)])];
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
    if (nextInLine && row.signed_ms !== null && now - row.signed_ms > bumpAfter) {
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
   * Nonces between the chain's and the lowest in flight that no entry holds would hold every
   * later write back for ever: fill each with a zero-value transfer to the node itself.
   */
  async #fillNonceGap(inFlight: OutboxRow[], latestNonce: number): Promise<void> {
    if (inFlight.length === 0) return;
    const held = new Set(inFlight.map((r) => Number(r.nonce)));
    const lowest = Math.min(...held);
    if (lowest <= latestNonce) return;
    const { publicClient, walletClient } = this.#options;
    for (let nonce = latestNonce; nonce < lowest && nonce < latestNonce + 16; nonce++) {
      if (held.has(nonce)) continue;
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
  async #signAndSend(row: OutboxRow, writesInFlight: boolean): Promise<'signed' | 'failed' | 'blocked'> {
    const { db } = this.#options;
    const id = BigInt(row.id);
    let gas: bigint;
    try {
      gas = await this.#simulate(row, writesInFlight);
    } catch (error) {
      const reason = revertReason(error);
      if (reason === undefined) throw error; // transport trouble: retry later
      if (writesInFlight) return 'blocked';
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
      const onChain = await publicClient.getTransactionCount({ address: sender, blockTag: 'pending' });
      const inFlight =
        highest[0]?.nonce === null || highest[0]?.nonce === undefined ? -1 : Number(highest[0].nonce);
      const nonce = Math.max(onChain, inFlight + 1);
      const request = await walletClient.prepareTransactionRequest({
        to: address,
        data,
        nonce,
        gas: (gas * 12n) / 10n,
        chain: walletClient.chain,
        account: walletClient.account,
      });
      const raw = await walletClient.signTransaction(request);
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
