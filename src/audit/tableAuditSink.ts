/**
 * The durable audit sink: the only write path of `audit_events`. Events are sealed (encrypted,
 * committed, leaf computed) and inserted by group commit: while one transaction is writing, newly
 * appended events queue; the next transaction writes all of them with ONE multi-row INSERT. Each
 * caller's promise resolves only after the transaction holding its event has committed (durable
 * before acknowledged) and rejects with AuditWriteError when it did not.
 *
 * Sequence numbers are gap-free and committed in order: each transaction takes an advisory lock
 * and continues from MAX(seq), so the anchor batcher always sees a prefix of the log and the
 * verifier can treat a missing number as a deleted event.
 */

import { canonicalJsonBytes } from '../crypto/canonicalJson.ts';
import type { Keyring } from '../crypto/KeyEncryptionKey.ts';
import { type Db, statement } from '../store/db.ts';
import type { AnchorBatcher } from '../vault/AnchorBatcher.ts';
import type { AuditEventInput, AuditSink } from './AuditSink.ts';
import { blindIndex, loadAuditIndexKey } from './blindIndex.ts';
import { AuditWriteError } from './errors.ts';
import { sealAuditEvent } from './sealAuditEvent.ts';
import { agentSearchKeys, toAuditEventResource } from './toAuditEventResource.ts';

export interface TableAuditSinkOptions {
  keyring: Keyring;
  /** Told of every committed event so a full anchor batch is built at once. */
  batcher?: AnchorBatcher | undefined;
  /** Most events in one transaction. Default 2,000. */
  maxGroup?: number;
}

export interface TableAuditSink extends AuditSink {
  /** Appends several events in order; resolves once all are committed. */
  appendMany(events: readonly AuditEventInput[]): Promise<void>;
  /** Resolves once everything appended so far is committed (or failed). */
  flush(): Promise<void>;
}

interface Waiter {
  events: readonly AuditEventInput[];
  resolve: () => void;
  reject: (error: unknown) => void;
}

const LOCK_CLASS = 7316201;
const LOCK_KEY = 1;

/**
 * One statement per group. The bulky bytes travel as ONE bytea parameter (each row's ciphertext,
 * wrapped key, commitment and leaf back to back) cut apart by offsets: far cheaper than hex text
 * arrays on both back ends.
 */
const INSERT = statement(`
INSERT INTO audit_events (seq, recorded, action, outcome, patient_index, agent_index, ciphertext, wrapped_key,
  kek_id, content_commitment, leaf)
SELECT u.seq, u.recorded, u.action, u.outcome, decode(NULLIF(u.patient, ''), 'hex'),
  ARRAY(SELECT decode(a, 'hex') FROM unnest(string_to_array(u.agents, ',')) AS a),
  substring($7::bytea FROM u.off + 1 FOR u.ct),
  substring($7::bytea FROM u.off + u.ct + 1 FOR u.wk),
  $10,
  substring($7::bytea FROM u.off + u.ct + u.wk + 1 FOR 32),
  substring($7::bytea FROM u.off + u.ct + u.wk + 33 FOR 32)
FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::smallint[], $5::text[], $6::text[], $8::int[], $9::int[],
  $11::int[]) AS u(seq, recorded, action, outcome, patient, agents, ct, wk, off)`);
const LOCK = statement('SELECT pg_advisory_xact_lock($1::int, $2::int)');
const TOP = statement('SELECT COALESCE(MAX(seq), 0)::text AS max FROM audit_events');

/** `db` must be the database itself (not a transaction): the sink commits its own transactions. */
export function tableAuditSink(db: Db, options: TableAuditSinkOptions): TableAuditSink {
  const maxGroup = options.maxGroup ?? 2000;
  let indexKey: Promise<Buffer> | undefined;
  const queue: Waiter[] = [];
  let running: Promise<void> | undefined;

  const key = () => {
    indexKey ??= loadAuditIndexKey(db, options.keyring).catch((error: unknown) => {
      indexKey = undefined;
      throw error;
    });
    return indexKey;
  };

  const writeGroup = async (group: Waiter[]): Promise<number> => {
    const events = group.flatMap((w) => w.events);
    const index = await key();
    const kek = options.keyring.current();
    // Everything that does not depend on seq happens before the lock is taken.
    const prepared = events.map((event) => ({
      event,
      patient:
        event.entity.patient === undefined
          ? ''
          : blindIndex(index, 'patient', event.entity.patient).toString('hex'),
      agents: agentSearchKeys(event)
        .map((k) => blindIndex(index, 'agent', k).toString('hex'))
        .join(','),
    }));
    await db.transaction(async (tx) => {
      await tx.query(LOCK, [LOCK_CLASS, LOCK_KEY]);
      const [top] = await tx.query<{ max: string }>(TOP);
      const first = BigInt(top?.max ?? '0') + 1n;
      const seqs: string[] = [];
      const recorded: string[] = [];
      const actions: string[] = [];
      const outcomes: string[] = [];
      const patients: string[] = [];
      const agents: string[] = [];
      const ctLengths: number[] = [];
      const wkLengths: number[] = [];
      const offsets: number[] = [];
      const parts: Uint8Array[] = [];
      let offset = 0;
      for (let i = 0; i < prepared.length; i++) {
        const { event, patient, agents: agentIndex } = prepared[i]!;
        const seq = first + BigInt(i);
        const json = canonicalJsonBytes(toAuditEventResource(seq.toString(), event));
        const sealed = await sealAuditEvent(seq, json, kek);
        seqs.push(seq.toString());
        recorded.push(event.recorded);
        actions.push(event.action);
        outcomes.push(event.outcome);
        patients.push(patient);
        agents.push(agentIndex);
        // Stored ciphertext is iv ‖ ciphertext ‖ tag.
        parts.push(sealed.iv, sealed.ciphertext, sealed.wrappedKey, sealed.contentCommitment, sealed.leaf);
        const ct = sealed.iv.length + sealed.ciphertext.length;
        offsets.push(offset);
        ctLengths.push(ct);
        wkLengths.push(sealed.wrappedKey.length);
        offset += ct + sealed.wrappedKey.length + 64;
      }
      await tx.query(INSERT, [
        seqs,
        recorded,
        actions,
        outcomes,
        patients,
        agents,
        Buffer.concat(parts),
        ctLengths,
        wkLengths,
        kek.id,
        offsets,
      ]);
    });
    return events.length;
  };

  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const group: Waiter[] = [];
      let size = 0;
      while (queue.length > 0 && (size === 0 || size + queue[0]!.events.length <= maxGroup)) {
        const waiter = queue.shift()!;
        group.push(waiter);
        size += waiter.events.length;
      }
      try {
        const written = await writeGroup(group);
        for (const waiter of group) waiter.resolve();
        options.batcher?.noteWritten(written);
      } catch (error) {
        const failure = new AuditWriteError(error);
        for (const waiter of group) waiter.reject(failure);
      }
    }
  };

  const start = () => {
    if (running) return;
    // Yield once so that appends made in the same tick share the first transaction.
    running = Promise.resolve()
      .then(drain)
      .finally(() => {
        running = undefined;
        if (queue.length > 0) start();
      });
  };

  const appendMany = (events: readonly AuditEventInput[]): Promise<void> => {
    if (events.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      queue.push({ events, resolve, reject });
      start();
    });
  };

  return {
    append: (event) => appendMany([event]),
    appendMany,
    async flush() {
      while (running) await running;
    },
  };
}

/** Collects events in memory (tests, and callers that batch before appending). */
export function memoryAuditSink(): AuditSink & { events: AuditEventInput[] } {
  const events: AuditEventInput[] = [];
  return {
    events,
    async append(event) {
      events.push(event);
    },
  };
}
