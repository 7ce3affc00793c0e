/**
 * The databases every storage test suite runs against: embedded PGlite and the
 * PostgreSQL server (TEST_DATABASE_URL, default the local server at 127.0.0.1:5432,
 * database `test`). Each opened database is a fresh schema, dropped on close.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrations } from '../../node/migrations.ts';
import type { Db } from '../db.ts';
import { openDatabase } from '../openDatabase.ts';
import { openTestEmbedded } from './embeddedTemplate.ts';

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

export interface TestDatabase {
  name: 'pglite' | 'postgres';
  open(): Promise<Db>;
}

export const testDatabases: readonly TestDatabase[] = [
  { name: 'pglite', open: openTestEmbedded },
  {
    name: 'postgres',
    async open() {
      const schema = `t_${randomBytes(6).toString('hex')}`;
      const db = await openDatabase({ migrations, databaseUrl: TEST_DATABASE_URL, schema });
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

/** Runs one statement as the test server's administrator (CREATE / DROP DATABASE). */
export async function asServerAdmin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the test server. */
export const serverDatabaseUrl = (name: string): string => TEST_DATABASE_URL.replace(/\/[^/]*$/, `/${name}`);

/**
 * A fresh database on the test server for a whole node (a schema is not enough: a node migrates
 * its own `public`): its URL, and how to drop it.
 */
export async function createServerDatabase(prefix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  await asServerAdmin(`CREATE DATABASE ${name}`);
  return {
    url: serverDatabaseUrl(name),
    drop: () => asServerAdmin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}
