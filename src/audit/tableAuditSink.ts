/**
 * The durable audit sink: the only write path of `audit_events`. Events are sealed (encrypted,
 * committed, leaf computed) and inserted by group commit: while one statement is writing, newly
 * appended events queue; the next statement (its own transaction) writes all of them, and is
 * sealed while the one before it is still in the database. Each
 * caller's promise resolves only after the transaction holding its event has committed (durable
 * before acknowledged) and rejects with AuditWriteError when it did not.
 *
 * Sequence numbers are gap-free and committed in order: each statement takes an advisory lock
 * and inserts only when its first seq follows MAX(seq), so the anchor batcher always sees a prefix of the log and the
 * verifier can treat a missing number as a deleted event.
 */

import { canonicalJsonBytes } from '../crypto/canonicalJson.ts';
import type { KeyEncryptionKey, Keyring } from '../crypto/KeyEncryptionKey.ts';
import { type Db, type SqlParam, type Statement, statement } from '../store/db.ts';
import { PackedBytes } from '../store/packedBytes.ts';
import type { AnchorBatcher } from '../vault/AnchorBatcher.ts';
import { isUniqueViolation } from '../vault/writeRecordVersion.ts';
import type { AuditEventInput, AuditSink } from './AuditSink.ts';
import { blindIndex, loadAuditIndexKey } from './blindIndex.ts';
import { AuditWriteError } from './errors.ts';
import { sealAuditEvent } from './sealAuditEvent.ts';
import { agentSearchKeys, toAuditEventResource } from './toAuditEventResource.ts';

export interface TableAuditSinkOptions {
  keyring: Keyring;
  /** Told of every committed event so a full anchor batch is built at once. */
  batcher?: AnchorBatcher | undefined;
  /**
   * Most events in one transaction. Default 1,000 (an anchor batch): with more appenders waiting
   * than that, one group is sealed while the one before it is written.
   */
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
 * The sink's advisory lock (held to commit, so appends commit in `seq` order) and the column list,
 * shared by both statements.
 */
const LOCKED = `ordered AS MATERIALIZED (SELECT pg_advisory_xact_lock(${LOCK_CLASS}, ${LOCK_KEY}))`;
const INSERT_INTO = `INSERT INTO audit_events (seq, recorded, action, outcome, patient_index, patient_indexes,
    agent_index, ciphertext, wrapped_key, kek_id, content_commitment, leaf)`;
/** The first patient's blind index, and the others' (NULL when none), from comma-separated hex. */
const patientColumns = (list: string) =>
  `decode(NULLIF(split_part(${list}, ',', 1), ''), 'hex'),
    CASE WHEN strpos(${list}, ',') > 0 THEN ARRAY(SELECT decode(p, 'hex') FROM unnest(string_to_array(substr(${list}, strpos(${list}, ',') + 1), ',')) AS p) END`;

/**
 * The guard of both statements: `first` (a parameter) must directly follow a stored event, or be
 * 1. As events are never deleted and `seq` is the primary key, that is `first = MAX(seq) + 1`,
 * checked by one index probe. Evaluated once per statement (it does not depend on the row).
 */
const follows = (first: string) =>
  `(${first} = 1 OR EXISTS (SELECT 1 FROM audit_events p WHERE p.seq = ${first} - 1))`;

/**
 * One statement per group, its own transaction. It takes the sink's advisory lock, and inserts
 * only when the group's first `seq` ($12) follows the log: the caller keeps the next `seq` in
 * memory and sealed the events with it; when another writer (a CLI process on the same server)
 * moved the log on, the statement meets the primary key (or, when its snapshot predates that
 * writer's commit, inserts nothing) and the caller reads MAX(seq) and seals again. The bulky bytes
 * travel as ONE bytea parameter (PackedBytes: each row's ciphertext, wrapped key, commitment and
 * leaf back to back).
 */
const INSERT = statement(`WITH ${LOCKED}, inserted AS (${INSERT_INTO}
  SELECT u.seq, u.recorded, u.action, u.outcome, ${patientColumns('u.patient')},
    ARRAY(SELECT decode(a, 'hex') FROM unnest(string_to_array(u.agents, ',')) AS a),
    substring($7::bytea FROM u.off + 1 FOR u.ct),
    substring($7::bytea FROM u.off + u.ct + 1 FOR u.wk),
    $10,
    substring($7::bytea FROM u.off + u.ct + u.wk + 1 FOR 32),
    substring($7::bytea FROM u.off + u.ct + u.wk + 33 FOR 32)
  FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::smallint[], $5::text[], $6::text[], $8::int[], $9::int[],
    $11::int[]) AS u(seq, recorded, action, outcome, patient, agents, ct, wk, off), ordered
  WHERE ${follows('$12::bigint')}
  RETURNING 1)
SELECT count(*)::int AS n FROM inserted`);
/**
 * The same for a group of one event (every request at low concurrency): the row's values as
 * plain parameters, no arrays to unnest and no bytea to cut apart, and no wrapping query (on
 * PGlite that shape costs a request about 0.1 ms more). $1 is the seq; a row comes back when
 * it was inserted.
 */
const INSERT_ONE = statement(`WITH ${LOCKED} ${INSERT_INTO}
  SELECT $1::bigint, $2::timestamptz, $3, $4::smallint, ${patientColumns('$5::text')},
    ARRAY(SELECT decode(a, 'hex') FROM unnest(string_to_array($6, ',')) AS a),
    $7::bytea, $8::bytea, $10, $9::bytea, $11::bytea
  FROM ordered
  WHERE ${follows('$1::bigint')}
  RETURNING 1 AS n`);
const TOP = statement('SELECT COALESCE(MAX(seq), 0)::text AS max FROM audit_events');
/** A group re-sealed this many times without getting in is an error, not a loop. */
const ATTEMPTS = 5;
/** Blind index values remembered per sink. */
const BLIND_INDEX_CACHE = 4096;

/** `db` must be the database itself (not a transaction): the sink commits its own transactions. */
export function tableAuditSink(db: Db, options: TableAuditSinkOptions): TableAuditSink {
  const maxGroup = options.maxGroup ?? 1000;
  let indexKey: Promise<Buffer> | undefined;
  const queue: Waiter[] = [];
  let running: Promise<void> | undefined;
  /** The seq the next group starts at, when the last group went in as expected; else read again. */
  let nextSeq: bigint | undefined;

  const key = () => {
    indexKey ??= loadAuditIndexKey(db, options.keyring).catch((error: unknown) => {
      indexKey = undefined;
      throw error;
    });
    return indexKey;
  };

  /**
   * Blind index values already computed (HMAC-SHA256 costs about 4 µs and the same patients and
   * agents come back on every request): keyed by field and value, bounded, oldest dropped first.
   */
  const indexed = new Map<string, string>();
  const blind = (index: Buffer, field: 'patient' | 'agent', value: string): string => {
    const cacheKey = `${field}\n${value}`;
    let hex = indexed.get(cacheKey);
    if (hex === undefined) {
      hex = blindIndex(index, field, value).toString('hex');
      if (indexed.size >= BLIND_INDEX_CACHE) indexed.delete(indexed.keys().next().value as string);
      indexed.set(cacheKey, hex);
    }
    return hex;
  };

  /** Everything about a group that does not depend on its seq, then sealed from `first`. */
  const prepareGroup = async (group: Waiter[], first: bigint | undefined): Promise<PreparedGroup> => {
    const index = await key();
    const kek = options.keyring.current();
    const events: PreparedEvent[] = group.flatMap((w) =>
      w.events.map((event) => ({
        event,
        patient: eventPatients(event)
          .map((p) => blind(index, 'patient', p))
          .join(','),
        agents: agentSearchKeys(event)
          .map((k) => blind(index, 'agent', k))
          .join(','),
      })),
    );
    const start = first ?? (await readNextSeq());
    return { events, kek, first: start, params: await sealGroup(events, start, kek) };
  };

  const readNextSeq = async () => BigInt((await db.query<{ max: string }>(TOP))[0]?.max ?? '0') + 1n;

  /**
   * Inserts a prepared group. It was sealed at the seq the log was expected to reach; when that
   * did not hold (another writer moved the log on, or the group before it failed), the guarded
   * statement inserts nothing (or meets the primary key) and the group is sealed again after the
   * real end of the log.
   */
  const commitGroup = async (prepared: PreparedGroup): Promise<void> => {
    let { first, params } = prepared;
    const count = prepared.events.length;
    for (let attempt = 1; ; attempt++) {
      let inserted = 0;
      try {
        const [sql, values] = insertStatement(params, first);
        inserted = (await db.query<{ n: number }>(sql, values))[0]?.n ?? 0;
      } catch (error) {
        // Another writer took these numbers first; anything else is the caller's error.
        if (!isUniqueViolation(error) || attempt >= ATTEMPTS) throw error;
        inserted = -1;
      }
      if (inserted === count) {
        nextSeq = first + BigInt(count);
        return;
      }
      if (inserted > 0 || attempt >= ATTEMPTS)
        throw new Error(`audit append: ${inserted} of ${count} events inserted at seq ${first}`);
      first = await readNextSeq();
      params = await sealGroup(prepared.events, first, prepared.kek);
    }
  };

  const takeGroup = (): Waiter[] => {
    const group: Waiter[] = [];
    let size = 0;
    while (queue.length > 0 && (size === 0 || size + queue[0]!.events.length <= maxGroup)) {
      const waiter = queue.shift()!;
      group.push(waiter);
      size += waiter.events.length;
    }
    return group;
  };

  /**
   * Groups go through a two-stage pipeline: while one group's statement runs in the database,
   * the next group is sealed (CPU work in this process) at the seq the running one will leave
   * the log at. Commits stay strictly one after another and in order; a group is acknowledged
   * only after its own transaction committed.
   */
  const drain = async (): Promise<void> => {
    let inFlight: { group: Waiter[]; done: Promise<void>; last: bigint } | undefined;
    while (queue.length > 0 || inFlight) {
      const group = takeGroup();
      let prepared: PreparedGroup | Error | undefined;
      if (group.length > 0) {
        try {
          prepared = await prepareGroup(group, inFlight ? inFlight.last + 1n : nextSeq);
        } catch (error) {
          prepared = error instanceof Error ? error : new Error(String(error));
        }
      }
      if (inFlight) {
        const outcome = await inFlight.done.then(
          () => undefined,
          (error: unknown) => error,
        );
        settle(inFlight.group, outcome);
        // The next group was sealed after a group that is not in the log: seal it again.
        if (outcome !== undefined) nextSeq = undefined;
        inFlight = undefined;
      }
      if (prepared instanceof Error) settle(group, prepared);
      else if (prepared) {
        const count = BigInt(prepared.events.length);
        const done = commitGroup(prepared);
        done.catch(() => {}); // settled when awaited above; never an unhandled rejection meanwhile
        inFlight = { group, done, last: prepared.first + count - 1n };
      }
    }
  };

  const settle = (group: Waiter[], error: unknown) => {
    if (error === undefined) {
      for (const waiter of group) waiter.resolve();
      options.batcher?.noteWritten(group.reduce((n, w) => n + w.events.length, 0));
      return;
    }
    const failure = new AuditWriteError(error);
    for (const waiter of group) waiter.reject(failure);
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

type GroupParams = Awaited<ReturnType<typeof sealGroup>>;

/** {@link INSERT} for a group, or {@link INSERT_ONE} with its parameters for a single event. */
function insertStatement(params: GroupParams, first: bigint): [Statement, SqlParam[]] {
  const [seqs, recorded, actions, outcomes, patients, agents, bytes, ctLengths, wkLengths, kekId] = params;
  if (seqs.length !== 1) return [INSERT, [...params, first.toString()]];
  const ct = ctLengths[0]!;
  const wk = wkLengths[0]!;
  return [
    INSERT_ONE,
    [
      seqs[0]!,
      recorded[0]!,
      actions[0]!,
      outcomes[0]!,
      patients[0]!,
      agents[0]!,
      bytes.subarray(0, ct),
      bytes.subarray(ct, ct + wk),
      bytes.subarray(ct + wk, ct + wk + 32),
      kekId,
      bytes.subarray(ct + wk + 32, ct + wk + 64),
    ],
  ];
}

interface PreparedGroup {
  events: PreparedEvent[];
  kek: KeyEncryptionKey;
  /** The seq the group was sealed from. */
  first: bigint;
  params: GroupParams;
}

interface PreparedEvent {
  event: AuditEventInput;
  /** Hex of the patients' blind index values, comma-separated (the first is `patient_index`), or ''. */
  patient: string;
  /** Hex blind index values of the agents, comma-separated. */
  agents: string;
}

/** Seals `events` as seq `first`, `first + 1`, ...: the parameters $1..$11 of {@link INSERT}. */
async function sealGroup(events: readonly PreparedEvent[], first: bigint, kek: KeyEncryptionKey) {
  const seqs: string[] = [];
  const recorded: string[] = [];
  const actions: string[] = [];
  const outcomes: string[] = [];
  const patients: string[] = [];
  const agents: string[] = [];
  const ctLengths: number[] = [];
  const wkLengths: number[] = [];
  const packed = new PackedBytes();
  for (let i = 0; i < events.length; i++) {
    const { event, patient, agents: agentIndex } = events[i]!;
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
    packed.add(sealed.iv, sealed.ciphertext, sealed.wrappedKey, sealed.contentCommitment, sealed.leaf);
    ctLengths.push(sealed.iv.length + sealed.ciphertext.length);
    wkLengths.push(sealed.wrappedKey.length);
  }
  return [
    seqs,
    recorded,
    actions,
    outcomes,
    patients,
    agents,
    packed.bytes(),
    ctLengths,
    wkLengths,
    kek.id,
    packed.offsets,
  ] as const;
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

/** Every patient an event names, the first (`entity.patient`) first. */
export function eventPatients(event: AuditEventInput): string[] {
  return [
    ...(event.entity.patient === undefined ? [] : [event.entity.patient]),
    ...(event.entity.patients ?? []),
  ];
}
