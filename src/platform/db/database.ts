import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { embeddedDatabasePassword } from '../secrets.js';
import { watchAvailability, type AvailabilityState } from './availability.js';
import { lockDataDir } from './data-dir-lock.js';
import { createDatabaseInChildProcess, holdsDatabase } from './embedded-initdb.js';
import { PGliteMultiplexer } from './pglite-multiplexer.js';
import type { Database } from './schema.js';

export interface DatabaseOptions {
  /** A PostgreSQL server URL; null for the embedded PGlite database. */
  url: string | null;
  /** Where the embedded database keeps its files; 'memory' keeps nothing (tests). */
  embeddedDir: string | 'memory';
  /** An embedded database to start from (PGlite's `dumpDataDir`): tests clone a migrated one. */
  embeddedTemplate?: Blob;
  poolSize: number;
  /** A connection failed (server restart, network); the pool replaces it. */
  onPoolError?: (error: Error) => void;
  /** The database stopped or started answering (see availability.ts). */
  onAvailabilityChange?: (state: AvailabilityState, cause: unknown) => void;
  /** How long opening a connection may take; the pool's wait for a free one counts too. */
  connectTimeoutMs?: number;
}

export interface DatabaseHandle {
  /** The typed query layer used by every repository. */
  db: Kysely<Database>;
  /** The pool under it, shared with Agenda so both take the same driver path. */
  pool: pg.Pool;
  kind: 'embedded' | 'server';
  /** Whether the database answered lately: while 'down', queries through `db` fail at once. */
  availability(): AvailabilityState;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/*
 * Both kinds end as a pg.Pool: the embedded PGlite database is served over a loopback socket by
 * PGliteMultiplexer, so repositories and Agenda never know which one they talk to.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const serverPool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      keepAlive: true,
    });
    return wrapPool(serverPool, 'server', options, async () => undefined);
  }

  const dataDir = options.embeddedDir === 'memory' ? undefined : path.join(options.embeddedDir, 'pgdata');
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const lock = options.embeddedDir === 'memory' ? null : await lockDataDir(options.embeddedDir);
  try {
    // A template (tests) is a whole data directory already; otherwise a new directory is made apart.
    if (dataDir && !options.embeddedTemplate && !(await holdsDatabase(dataDir))) await createDatabaseInChildProcess(dataDir, EMBEDDED_SETTINGS);
    const pglite = await PGlite.create({
      ...(dataDir ? { dataDir } : {}),
      ...(options.embeddedTemplate ? { loadDataDir: options.embeddedTemplate } : {}),
      postgresqlconf: [...EMBEDDED_SETTINGS],
    });
    const password = await embeddedDatabasePassword(options.embeddedDir);
    const server = new PGliteMultiplexer(pglite, { password });
    const address = await server.listen();
    // No connect timeout: the embedded database lives in this process and cannot go away, and its
    // one backend makes a wait behind a long transaction (an import) normal, not an outage.
    const pool = new pg.Pool({ host: address.host, port: address.port, user: 'postgres', password, database: 'postgres', max: options.poolSize });
    return wrapPool(pool, 'embedded', options, async () => {
      await server.close();
      await pglite.close();
      await lock?.release();
    });
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

/*
 * PGlite's default shared_buffers (160 MB) is sized for a server; inside this process it is
 * WebAssembly memory that is never given back. 32 MB holds a development or small production
 * database's hot pages, and the operating system's file cache holds the rest.
 */
const EMBEDDED_SETTINGS = ['shared_buffers=32MB'] as const;

const PING_TIMEOUT_MS = 2000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

function wrapPool(pool: pg.Pool, kind: DatabaseHandle['kind'], options: DatabaseOptions, closeUnderlying: () => Promise<void>): DatabaseHandle {
  // A connection that fails must never crash the process. pg-pool listens on idle clients only;
  // a client checked out (by Kysely, by Agenda) that loses its server emits 'error' with nobody
  // listening, and Node ends the process. So every client gets a listener for its whole life;
  // the query it was running fails on its own, and the pool drops the broken client.
  const onClientError = (error: Error) => options.onPoolError?.(error);
  pool.on('connect', (client) => client.on('error', onClientError));
  pool.on('error', onClientError);
  const availability = watchAvailability(pool, { watchStalls: kind === 'server' });
  if (options.onAvailabilityChange) availability.onChange(options.onAvailabilityChange);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: availability.pool }) });
  return {
    db,
    pool,
    kind,
    availability: () => availability.state(),
    async ping() {
      if (availability.state() === 'down') return false;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
      });
      const answer = pool.query('select 1').then(
        () => true,
        () => false,
      );
      const healthy = await Promise.race([answer, timeout]);
      clearTimeout(timer);
      return healthy;
    },
    async close() {
      availability.close();
      try {
        // Kysely ends the pool only if it ever ran a query; Agenda-only processes may not have.
        await db.destroy();
        if (!pool.ending && !pool.ended) await pool.end();
      } finally {
        await closeUnderlying();
      }
    },
  };
}
