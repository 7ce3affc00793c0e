/**
 * Forward-only schema migrations, applied in order on start. Each component contributes its own
 * (`src/<component>/schema.ts`); the node assembles the ordered list (node/migrations.ts).
 * A transaction-scoped advisory lock keeps two node processes on one server from
 * migrating at once.
 */
import type { Db } from './db.ts';

export interface Migration {
  /** Stable, ordered id: `0001_outbox`. Never renamed once released. */
  id: string;
  sql: string;
}

export async function migrate(db: Db, list: readonly Migration[]): Promise<string[]> {
  await db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (id text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
  );
  const applied: string[] = [];
  for (const migration of list) {
    const done = await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(7316002)');
      const rows = await tx.query('SELECT 1 FROM schema_migrations WHERE id = $1', [migration.id]);
      if (rows.length > 0) return false;
      for (const statement of splitStatements(migration.sql)) await tx.query(statement);
      await tx.query('INSERT INTO schema_migrations (id) VALUES ($1)', [migration.id]);
      return true;
    });
    if (done) applied.push(migration.id);
  }
  return applied;
}

/** Migrations are plain DDL; statements end with `;` at the end of a line. */
function splitStatements(sql: string): string[] {
  return sql
    .split(/;\s*$/m)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
