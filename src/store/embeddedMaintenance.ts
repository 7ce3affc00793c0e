/**
 * What autovacuum does on a PostgreSQL server, for the embedded database: PGlite runs PostgreSQL in
 * single-user mode, where no autovacuum worker ever runs, so without this its tables would never
 * get planner statistics (every search planned on default estimates, whatever the data: an
 * imported Synthea set left `fhir_search_index`, 368,570 rows, with `reltuples = -1`) and dead row
 * versions of the often-updated tables (index state, outbox) would never be reclaimed.
 *
 * The trigger is the one the planner itself trusts: a table whose file has grown well past the
 * page count its last VACUUM/ANALYZE recorded (`pg_class.relpages`) gets `VACUUM (ANALYZE)`. The
 * check reads only the catalog and file sizes (about a millisecond), so the node runs it once a
 * minute and after every import; an idle database costs nothing more. On a PostgreSQL server the
 * server's own autovacuum does this and the node leaves it alone.
 */
import type { Db } from './db.ts';

/** Grown by a fifth (and a few pages) since the last statistics: refresh them. */
const GROWTH = 1.2;
const SLACK_PAGES = 8;
export const MAINTENANCE_INTERVAL_MS = 60_000;

/** Vacuums and analyzes the embedded tables that grew since their statistics; returns their names. */
export async function refreshStaleStatistics(db: Db): Promise<string[]> {
  if (db.kind !== 'pglite') return [];
  const tables = await db.query<{ name: string; relpages: number; pages: number }>(
    `SELECT c.relname AS name, c.relpages,
            (pg_relation_size(c.oid) / current_setting('block_size')::int)::int AS pages
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname = current_schema()`,
  );
  const stale = tables.filter((t) => t.pages > 0 && t.pages >= t.relpages * GROWTH + SLACK_PAGES);
  // One table at a time, each its own statement (VACUUM cannot run inside a transaction block).
  for (const t of stale) await db.exec(`VACUUM (ANALYZE) "${t.name.replaceAll('"', '""')}"`);
  return stale.map((t) => t.name);
}

/** Runs {@link refreshStaleStatistics} every minute while started (the node's leader runs it). */
export class EmbeddedMaintenance {
  readonly #db: Db;
  readonly #onError: (error: unknown) => void;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> = Promise.resolve();

  constructor(db: Db, onError: (error: unknown) => void, intervalMs = MAINTENANCE_INTERVAL_MS) {
    this.#db = db;
    this.#onError = onError;
    this.#intervalMs = intervalMs;
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.#running = this.#running.then(() => refreshStaleStatistics(this.#db)).catch(this.#onError);
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
