/**
 * One institution's node may run as several processes on one PostgreSQL database (`medledger start
 * --workers N`, or N `medledger start` on N hosts). Request handling runs in every process; the
 * loops that must run once per institution (the chain indexer, the outbox worker, the anchor
 * batchers' timers, the notice delivery) run only in the process elected leader.
 *
 * The election is a session-level advisory lock held on a connection of its own: the process
 * whose connection holds it leads, for as long as that connection lives. A process that dies, even
 * by SIGKILL, closes its connection, so the server releases the lock at once, and a waiting
 * process (blocked in `pg_advisory_lock` on its own connection) takes over within a moment.
 *
 * Fencing: the elected workers do all their database work through {@link workerDb}, which runs on
 * the lock's own connection. A leader cut off from the server (its connection broken) loses the
 * lock and every statement of its workers at the same instant, so two indexers or two outbox
 * workers never write at once, even for one statement. While following, `workerDb` refuses.
 *
 * On PGlite (one process by construction: the data directory is locked by the database) the
 * process is always the leader and `workerDb` is the database itself.
 */
import type { Client } from 'pg';
import type { Logger } from '../../config/logger.ts';
import type { ElectedWorker, Election } from '../../context/NodeContext.ts';
import { StoreError } from '../../errors/MedledgerError.ts';
import { connectionDb, type Db } from '../../store/db.ts';

/** Advisory lock class of the leader lock; the key is the schema's hash (tests share a database). */
const LEADER_LOCK = `7316300, hashtext(current_schema())`;
const RETRY_MS = 1_000;

export class Leadership implements Election {
  readonly #db: Db;
  readonly #logger: Logger;
  readonly #elected: ElectedWorker[] = [];
  readonly #following: ElectedWorker[] = [];
  /** The database as the elected workers see it. */
  readonly workerDb: Db;
  #term: { client: Client; db: Db } | undefined;
  #leading = false;
  #stopped = false;
  #started = false;
  #campaign: Promise<void> | undefined;
  #waiting: Client | undefined;
  /** Serializes becoming leader, stepping down and stopping. */
  #transition: Promise<void> = Promise.resolve();

  constructor(db: Db, logger: Logger) {
    this.#db = db;
    this.#logger = logger;
    this.workerDb = db.dedicatedConnection ? this.#fencedDb() : db;
  }

  /** Whether this process leads now. */
  get leading(): boolean {
    return this.#leading;
  }

  /** Runs `worker` whenever this process leads (at once if it does now). */
  elect(worker: ElectedWorker): void {
    this.#elected.push(worker);
    if (this.#started && this.#leading) this.#run(() => worker.start(), 'starting an elected worker');
  }

  /** Runs `worker` whenever this process does not lead (at once if it follows now). */
  whileFollowing(worker: ElectedWorker): void {
    this.#following.push(worker);
    if (this.#started && !this.#leading && !this.#stopped)
      this.#run(() => worker.start(), 'starting a follower worker');
  }

  /**
   * Tries once to lead; resolves once this process leads (its elected workers started) or follows
   * (its follower workers started). With `campaign`, a follower then waits for the lock in the
   * background and takes over when the leader goes, and a leader that loses its connection
   * follows and campaigns again.
   */
  async start(options: { campaign: boolean }): Promise<void> {
    this.#started = true;
    if (!this.#db.dedicatedConnection) {
      await this.#becomeLeader(undefined);
      return;
    }
    const client = await this.#db.dedicatedConnection();
    client.on('error', () => {});
    const [row] = (
      await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${LEADER_LOCK}) AS locked`)
    ).rows;
    if (row?.locked) {
      await this.#becomeLeader(client);
      if (options.campaign) this.#campaign = this.#holdThenCampaign(client);
      return;
    }
    await client.end().catch(() => {});
    for (const worker of this.#following) await worker.start();
    if (options.campaign) this.#campaign = this.#waitForLock();
  }

  /** Stops the workers of either side and gives the lock up. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#waiting?.end().catch(() => {});
    await this.#serialize(async () => {
      if (this.#leading) await this.#stepDown();
      else if (this.#started) for (const worker of [...this.#following].reverse()) await worker.stop();
    });
    await this.#campaign;
  }

  /** Leads until the lock's connection is lost, then follows and waits for the lock again. */
  async #holdThenCampaign(client: Client): Promise<void> {
    await this.#lost(client);
    if (this.#stopped) return;
    this.#logger.warn('lost the leader lock (database connection broken); following again');
    await this.#serialize(async () => {
      if (this.#leading) await this.#stepDown();
      for (const worker of this.#following) await worker.start();
    });
    await this.#waitForLock();
  }

  async #waitForLock(): Promise<void> {
    while (!this.#stopped) {
      let client: Client | undefined;
      try {
        client = await this.#db.dedicatedConnection!();
        this.#waiting = client;
        client.on('error', () => {});
        await client.query(`SELECT pg_advisory_lock(${LEADER_LOCK})`);
        this.#waiting = undefined;
        if (this.#stopped) {
          await client.end().catch(() => {});
          return;
        }
        const won = client;
        await this.#serialize(async () => {
          for (const worker of [...this.#following].reverse()) await worker.stop();
          try {
            await this.#becomeLeader(won);
          } catch (error) {
            for (const worker of this.#following) await worker.start();
            throw error;
          }
        });
        this.#logger.info(
          `elected leader of this database (pid ${process.pid}): indexer and outbox run here`,
        );
        await this.#holdThenCampaign(won);
        return;
      } catch (error) {
        this.#waiting = undefined;
        await client?.end().catch(() => {});
        if (this.#stopped) return;
        this.#logger.warn(`leader election: ${error instanceof Error ? error.message : String(error)}`);
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
      }
    }
  }

  /** Resolves when the lock's connection ends (or breaks), or when this process stops. */
  #lost(client: Client): Promise<void> {
    return new Promise((resolve) => {
      client.once('error', () => resolve());
      client.once('end', () => resolve());
    });
  }

  async #becomeLeader(client: Client | undefined): Promise<void> {
    if (client) {
      client.on('error', () => {});
      this.#term = { client, db: connectionDb(client) };
    }
    this.#leading = true;
    try {
      for (const worker of this.#elected) await worker.start();
    } catch (error) {
      await this.#stepDown();
      throw error;
    }
  }

  async #stepDown(): Promise<void> {
    for (const worker of [...this.#elected].reverse())
      await worker
        .stop()
        .catch((error: unknown) => this.#logger.warn(`stopping an elected worker: ${String(error)}`));
    this.#leading = false;
    const term = this.#term;
    this.#term = undefined;
    await term?.client.end().catch(() => {});
  }

  #serialize(fn: () => Promise<void>): Promise<void> {
    const run = this.#transition.then(fn);
    this.#transition = run.catch(() => {});
    return run;
  }

  #run(fn: () => void | Promise<void>, what: string): void {
    void this.#serialize(async () => {
      await fn();
    }).catch((error: unknown) =>
      this.#logger.warn(`${what}: ${error instanceof Error ? error.message : String(error)}`),
    );
  }

  /** A Db that runs on the current term's connection, and refuses while this process follows. */
  #fencedDb(): Db {
    const term = (): Db => {
      const current = this.#term;
      if (!current)
        throw new StoreError('this process is not the elected leader: its background workers are stopped');
      return current.db;
    };
    return {
      kind: 'postgres',
      query: async (sql, params) => term().query(sql, params),
      transaction: async (fn) => term().transaction(fn),
      exec: async (sql) => term().exec(sql),
      listen: (channel, onNotify) => this.#db.listen(channel, onNotify),
      close: async () => {},
    };
  }
}
