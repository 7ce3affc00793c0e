/**
 * Break-glass: records `Consent.openEmergencyAccess` on chain through the outbox, waits for
 * it to be confirmed and indexed, so the following consent decision rests on it. Only a salted
 * hash of the reason goes on chain, `keccak256(salt ‖ utf8(reason))` with 32 random bytes of salt
 * (nothing identifying on chain, and a short reason cannot be recovered by trying a dictionary of
 * reasons); the text and the salt stay in the audit event, so the patient's report proves which
 * reason the on-chain opening carries ({@link breakGlassReasonHash}).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { concat, type Hex, keccak256, toHex } from 'viem';
import type { ChainIndexer } from '../chain/indexer/ChainIndexer.ts';
import { enqueueChainWrite } from '../chain/outbox/enqueueChainWrite.ts';
import { waitForOutboxEntry } from '../chain/outbox/outboxEntry.ts';
import type { Db } from '../store/db.ts';

export interface EmergencyAccessParameters {
  patient: string;
  practitioner: string;
  reason: string;
  durationSeconds: number;
  timeoutMs: number;
}

export type EmergencyAccessResult =
  | { opened: true; block: bigint; txHash: string | null; salt: Hex }
  | { opened: false; error: string };

export type OpenEmergencyAccess = (parameters: EmergencyAccessParameters) => Promise<EmergencyAccessResult>;

export function outboxEmergencyAccess(ctx: {
  db: Db;
  indexer: Pick<ChainIndexer, 'waitForBlock'>;
}): OpenEmergencyAccess {
  return async ({ patient, practitioner, reason, durationSeconds, timeoutMs }) => {
    const salt = toHex(randomBytes(32));
    const id = await ctx.db.transaction((tx) =>
      enqueueChainWrite(tx, {
        dedupeKey: `emergency:${patient}:${practitioner}:${randomUUID()}`,
        contract: 'consent',
        functionName: 'openEmergencyAccess',
        args: [patient, practitioner, breakGlassReasonHash(salt, reason), durationSeconds],
      }),
    );
    if (id === undefined) return { opened: false, error: 'emergency access was not enqueued' };
    const state = await waitForOutboxEntry(ctx.db, id, timeoutMs);
    if (state.status !== 'confirmed' || state.blockNumber === null) {
      return { opened: false, error: state.error ?? `transaction ${state.status}` };
    }
    await ctx.indexer.waitForBlock(state.blockNumber, timeoutMs);
    return { opened: true, block: state.blockNumber, txHash: state.txHash, salt };
  };
}

/** The on-chain hash of a break-glass reason: `keccak256(salt ‖ utf8(reason))`. */
export function breakGlassReasonHash(salt: Hex, reason: string): Hex {
  return keccak256(concat([salt, toHex(reason)]));
}
