import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import { embeddedDatabasePassword } from '../secrets.js';
import { lockDataDir } from './data-dir-lock.js';
import { PGliteMultiplexer } from './pglite-multiplexer.js';
import type { Database } from './schema.js';

export interface DatabaseOptions {
  /** A PostgreSQL server URL; null for the embedded PGlite database. */
  url: string | null;
  /** Where the embedded database keeps its files; 'memory' keeps nothing (tests). */
  embeddedDir: string | 'memory';
  poolSize: number;
  /** An idle connection failed (server restart, network); the pool replaces it. */
  onPoolError?: (error: Error) => void;
}

export interface DatabaseHandle {
  /** The typed query layer used by every repository. */
  db: Kysely<Database>;
  /** The pool under it, shared with Agenda so both take the same driver path. */
  pool: pg.Pool;
  kind: 'embedded' | 'server';
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

/*
 * Both kinds end as a pg.Pool: the embedded PGlite database is served over a loopback socket by
 * PGliteMultiplexer, so repositories and Agenda never know which one they talk to.
 */
export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) return wrapPool(new pg.Pool({ connectionString: options.url, max: options.poolSize }), 'server', options.onPoolError, async () => undefined);

  const dataDir = options.embeddedDir === 'memory' ? undefined : path.join(options.embeddedDir, 'pgdata');
  if (dataDir) await mkdir(dataDir, { recursive: true });
  const lock = options.embeddedDir === 'memory' ? null : await lockDataDir(options.embeddedDir);
  try {
    const pglite = await PGlite.create(dataDir ? { dataDir } : {});
    const password = await embeddedDatabasePassword(options.embeddedDir);
    const server = new PGliteMultiplexer(pglite, { password });
    const address = await server.listen();
    const pool = new pg.Pool({ host: address.host, port: address.port, user: 'postgres', password, database: 'postgres', max: options.poolSize });
    return wrapPool(pool, 'embedded', options.onPoolError, async () => {
      await server.close();
      await pglite.close();
      await lock?.release();
    });
  } catch (error) {
    await lock?.release();
    throw error;
  }
}

const PING_TIMEOUT_MS = 2000;

function wrapPool(pool: pg.Pool, kind: DatabaseHandle['kind'], onPoolError: DatabaseOptions['onPoolError'], closeUnderlying: () => Promise<void>): DatabaseHandle {
  // An idle client that loses its connection must not crash the process; the pool replaces it.
  pool.on('error', (error) => onPoolError?.(error));
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return {
    db,
    pool,
    kind,
    async ping() {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), PING_TIMEOUT_MS);
      });
      const answer = pool.query('select 1').then(() => true, () => false);
      const healthy = await Promise.race([answer, timeout]);
      clearTimeout(timer);
      return healthy;
    },
    async close() {
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
