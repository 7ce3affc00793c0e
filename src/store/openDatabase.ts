/**
 * Opens the configured database: a PostgreSQL server when a connection string is
 * given, otherwise PGlite in `<dataDir>/pgdata`. Runs the migrations before returning.
 */
import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from '../errors/MedledgerError.ts';
import { type Db, pgliteDb, postgresDb } from './db.ts';
import { type Migration, migrate } from './migrate.ts';
import { BYTEA } from './pglitePrepared.ts';

export interface OpenDatabaseOptions {
  /** `postgres://...`; unset means embedded PGlite. */
  databaseUrl?: string | undefined;
  /** Where PGlite keeps its files; `memory://` for a throw-away database. */
  dataDir?: string | undefined;
  /** PostgreSQL schema to use on a server (tests give each run its own). */
  schema?: string | undefined;
  /**
   * The migrations to apply, in order: the node's list (node/migrations.ts); upgrade tests open a
   * database as an older release left it.
   */
  migrations: readonly Migration[];
  /**
   * A dump of an embedded database (PGlite's `dumpDataDir`) that a *new* embedded database starts
   * from instead of an empty cluster, made by running these same `migrations`: PGlite's initdb and
   * the migrations cost seconds, and the tests start a hundred nodes (src/store/testing/embeddedTemplate.ts).
   * Ignored for a server and for a data directory that already holds a database.
   */
  embeddedTemplate?: Blob | undefined;
}

export async function openDatabase(options: OpenDatabaseOptions): Promise<Db> {
  const db = options.databaseUrl
    ? await openServer(options.databaseUrl, options.schema)
    : await openEmbedded(options.dataDir, options.embeddedTemplate);
  try {
    await migrate(db, options.migrations);
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
  return db;
}

async function openEmbedded(dataDir: string | undefined, template: Blob | undefined): Promise<Db> {
  const { PGlite } = await import('@electric-sql/pglite');
  const from = template ? { loadDataDir: template } : {};
  if (!dataDir || dataDir === 'memory://') return pgliteDb(await PGlite.create({ ...BYTEA_CODEC, ...from }));
  const dir = join(dataDir, 'pgdata');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    // access(2) reports a read-only file system (EROFS) even to root.
    await access(dir, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new StoreError(
      `the data directory ${dataDir} is not writable (${code === 'EROFS' ? 'read-only file system' : code}): medledger keeps its database there`,
      error,
    );
  }
  try {
    const isNew = !(await access(join(dir, 'PG_VERSION')).then(
      () => true,
      () => false,
    ));
    return pgliteDb(await PGlite.create(dir, { ...BYTEA_CODEC, ...(isNew ? from : {}) }));
  } catch (error) {
    throw new StoreError(
      `could not open the embedded database in ${dir}: is another medledger using it?`,
      error,
    );
  }
}

/**
 * PGlite's own bytea codec converts one byte at a time in JavaScript (`Array.from(...).map`,
 * `parseInt` per pair), which dominates statements that move a few hundred bytes. Node's hex
 * codec does the same conversion natively; values stay plain `Uint8Array`s as before.
 */
const BYTEA_CODEC = {
  serializers: {
    [BYTEA]: (value: unknown): string => {
      if (!(value instanceof Uint8Array)) throw new TypeError('bytea parameters must be Uint8Array');
      return `\\x${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex')}`;
    },
  },
  parsers: {
    [BYTEA]: (text: string): Uint8Array => {
      const bytes = new Uint8Array((text.length - 2) >>> 1);
      Buffer.from(bytes.buffer).write(text.slice(2), 'hex');
      return bytes;
    },
  },
};

async function openServer(databaseUrl: string, schema: string | undefined): Promise<Db> {
  const { default: pg } = await import('pg');
  // int8 and numeric come back as strings by default; bigint columns are read as BigInt by callers.
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: 10,
    ...(schema ? { options: `-c search_path=${schema}` } : {}),
  });
  pool.on('error', () => {}); // idle client errors surface on the next query instead
  try {
    if (schema) await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    else await pool.query('SELECT 1');
  } catch (error) {
    await pool.end().catch(() => {});
    throw new StoreError(`could not connect to the PostgreSQL server at ${redactUrl(databaseUrl)}`, error);
  }
  return postgresDb(pool);
}

/** Connection strings carry passwords: never log them whole. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}
