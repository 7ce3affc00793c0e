/**
 * Sends the outbox's chain writes exactly once, in order, surviving restarts.
 *
 * Per entry: (1) in one database transaction, take the next nonce of the sending
 * account, sign, and store the signed bytes and hash (status `signed`); (2) broadcast
 * those bytes; (3) wait for the receipt and record it (`confirmed` or `failed`).
 * A crash after (1) rebroadcasts the identical bytes on restart (same hash, same
 * nonce: the chain accepts it at most once); a crash before (1) signs it afresh.
 * Entries are processed one at a time because later ones (anchor n+1) are only valid
 * after earlier ones (anchor n) are mined.
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
  type Transport,
  type WalletClient,
} from 'viem';
import type { Db } from '../../store/db.ts';
import type { ContractAddresses } from '../contractAddresses.ts';
import { contractFor } from '../contractFor.ts';
import { PollingLoop } from '../PollingLoop.ts';
import type { OutboxContract } from './enqueueChainWrite.ts';

export type OutboxCrashPoint = 'after-sign' | 'after-broadcast';

export interface OutboxWorkerOptions {
  db: Db;
  publicClient: PublicClient;
  walletClient: WalletClient<Transport, Chain, Account>;
  addresses: ContractAddresses;
  confirmations?: number;
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
  raw_tx: Hex | null;
  tx_hash: Hex | null;
}

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

  /** Drives the oldest open entry to a final state. Returns false when there was none. */
  async processNext(): Promise<boolean> {
    const { db } = this.#options;
    const rows = await db.query<OutboxRow>(
      `SELECT id::text AS id, contract, function_name, args, status, raw_tx, tx_hash
       FROM chain_outbox WHERE status IN ('pending', 'signed') ORDER BY chain_outbox.id LIMIT 1`,
    );
    const row = rows[0];
    if (!row) return false;
    const id = BigInt(row.id);
    let signed: { raw: Hex; hash: Hex } | undefined =
      row.status === 'signed' && row.raw_tx && row.tx_hash
        ? { raw: row.raw_tx, hash: row.tx_hash }
        : undefined;
    if (!signed) {
      signed = await this.#sign(id, row);
      if (!signed) return true; // failed in simulation; recorded
      await this.#options.onStep?.('after-sign', id);
    }
    await this.#broadcast(id, signed);
    await this.#options.onStep?.('after-broadcast', id);
    await this.#confirm(id, signed.hash);
    return true;
  }

  async #sign(id: bigint, row: OutboxRow): Promise<{ raw: Hex; hash: Hex } | undefined> {
    const { db, publicClient, walletClient, addresses } = this.#options;
    const { address, abi } = contractFor(addresses, row.contract);
    const args = coerceArgs(abi, row.function_name, row.args);
    const data = encodeFunctionData({ abi, functionName: row.function_name, args });
    const sender = walletClient.account.address;
    let gas: bigint;
    try {
      gas = await publicClient.estimateContractGas({
        address,
        abi,
        functionName: row.function_name,
        args,
        // The bare address, not the local account: with a local account viem first prepares a
        // whole transaction (nonce, fees) and anvil then evaluates the estimate at a stale state.
        account: walletClient.account.address,
      });
    } catch (error) {
      const reason = revertReason(error);
      if (reason === undefined) throw error; // transport trouble: retry later
      await db.query(
        `UPDATE chain_outbox SET status = 'failed', last_error = $2, attempts = attempts + 1 WHERE id = $1`,
        [id.toString(), reason],
      );
      return undefined;
    }
    return db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(7316003)');
      const current = await tx.query<{ status: string; raw_tx: Hex | null; tx_hash: Hex | null }>(
        'SELECT status, raw_tx, tx_hash FROM chain_outbox WHERE id = $1 FOR UPDATE',
        [id.toString()],
      );
      const existing = current[0];
      if (existing?.status === 'signed' && existing.raw_tx && existing.tx_hash) {
        return { raw: existing.raw_tx, hash: existing.tx_hash }; // another worker got here first
      }
      const stored = await tx.query<{ next_nonce: string }>(
        'SELECT next_nonce::text AS next_nonce FROM chain_sender_nonce WHERE sender = $1 FOR UPDATE',
        [sender],
      );
      const onChain = await publicClient.getTransactionCount({ address: sender, blockTag: 'pending' });
      const nonce = Math.max(onChain, Number(stored[0]?.next_nonce ?? 0));
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
           signed_at = now(), attempts = attempts + 1 WHERE id = $1`,
        [id.toString(), sender, String(nonce), raw, hash],
      );
      return { raw, hash };
    });
  }

  async #broadcast(id: bigint, signed: { raw: Hex; hash: Hex }): Promise<void> {
    const { db, publicClient } = this.#options;
    try {
      await publicClient.sendRawTransaction({ serializedTransaction: signed.raw });
    } catch (error) {
      // Already in the pool or already mined: the receipt check below settles it.
      const message = error instanceof Error ? error.message.toLowerCase() : '';
      if (!/already known|nonce too low|already imported|known transaction/.test(message)) throw error;
    }
    await db.query('INSERT INTO chain_outbox_broadcast (outbox_id, tx_hash) VALUES ($1, $2)', [
      id.toString(),
      signed.hash,
    ]);
  }

  async #confirm(id: bigint, hash: Hex): Promise<void> {
    const { db, publicClient } = this.#options;
    const receipt = await publicClient.waitForTransactionReceipt({
      hash,
      confirmations: this.#options.confirmations ?? 1,
      timeout: 60_000,
      pollingInterval: 100,
    });
    // Some nodes (anvil) serve a receipt before `latest` includes its block; the next entry is
    // simulated against `latest`, so a write counts as confirmed only once `latest` has it.
    const deadline = Date.now() + 60_000;
    while ((await publicClient.getBlockNumber({ cacheTime: 0 })) < receipt.blockNumber) {
      if (Date.now() > deadline)
        throw new Error(`block ${receipt.blockNumber} of ${hash} never became latest`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const status = receipt.status === 'success' ? 'confirmed' : 'failed';
    await db.query(
      `UPDATE chain_outbox SET status = $2, block_number = $3, gas_used = $4, confirmed_at = now(),
         last_error = CASE WHEN $2 = 'failed' THEN 'reverted on chain' ELSE NULL END
       WHERE id = $1`,
      [id.toString(), status, receipt.blockNumber.toString(), receipt.gasUsed.toString()],
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
