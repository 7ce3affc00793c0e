/**
 * The databases every storage test suite runs against: embedded PGlite and the
 * PostgreSQL server (TEST_DATABASE_URL, default the local server at 127.0.0.1:5432,
 * database `test`). Each opened database is a fresh schema, dropped on close.
 */
import { randomBytes } from 'node:crypto';
import type { Db } from '../db.ts';
import { openDatabase } from '../openDatabase.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: 'pglite' | 'postgres';
  open(): Promise<Db>;
}

export const testDatabases: readonly TestDatabase[] = [
  { name: 'pglite', open: () => openDatabase({ dataDir: 'memory://' }) },
  {
    name: 'postgres',
    async open() {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const db = await openDatabase({ databaseUrl: TEST_DATABASE_URL, schema });
      const close = db.close.bind(db);
      return Object.assign(db, {
        async close() {
          await db.exec(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
          await close();
        },
      });
    },
  },
];
