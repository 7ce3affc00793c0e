/**
 * Break-glass: records `Consent.openEmergencyAccess` on chain through the outbox, waits for
 * it to be confirmed and indexed, so the following consent decision rests on it. Only the
 * hash of the reason goes on chain (nothing identifying on chain); the text stays in the
 * audit event.
 */
import { randomUUID } from 'node:crypto';
import { keccak256, toHex } from 'viem';
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
  | { opened: true; block: bigint; txHash: string | null }
  | { opened: false; error: string };

export type OpenEmergencyAccess = (parameters: EmergencyAccessParameters) => Promise<EmergencyAccessResult>;

export function outboxEmergencyAccess(ctx: {
  db: Db;
  indexer: Pick<ChainIndexer, 'waitForBlock'>;
}): OpenEmergencyAccess {
  return async ({ patient, practitioner, reason, durationSeconds, timeoutMs }) => {
    const id = await ctx.db.transaction((tx) =>
      enqueueChainWrite(tx, {
        dedupeKey: `emergency:${patient}:${practitioner}:${randomUUID()}`,
        contract: 'consent',
        functionName: 'openEmergencyAccess',
        args: [patient, practitioner, keccak256(toHex(reason)), durationSeconds],
      }),
    );
    if (id === undefined) return { opened: false, error: 'emergency access was not enqueued' };
    const state = await waitForOutboxEntry(ctx.db, id, timeoutMs);
    if (state.status !== 'confirmed' || state.blockNumber === null) {
      return { opened: false, error: state.error ?? `transaction ${state.status}` };
    }
    await ctx.indexer.waitForBlock(state.blockNumber, timeoutMs);
    return { opened: true, block: state.blockNumber, txHash: state.txHash };
  };
}
