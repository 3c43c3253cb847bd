import { createHash, randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { migrate, readMigrations } from '../../src/platform/db/migrate.js';
import { PGliteMultiplexer } from '../../src/platform/db/pglite-multiplexer.js';

/*
 * A migrated database that test files clone instead of migrating their own (as graphile-worker's
 * tests do): on a server, `create database … template baton_template_<hash>`; on PGlite, a dump of
 * a migrated data dir that each file loads (`loadDataDir`), which also skips PGlite's initdb
 * (about 7 s of a fresh in-memory start against 4.5 s for a load, on this 2-core machine).
 *
 * The hash covers everything that shapes the schema (migration files, the migration code, the
 * PGlite and Agenda backend versions), so a branch with a new migration gets a template of its own
 * and a stale one is never used. Templates are built once, by whichever test file needs one first.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function schemaHash(): Promise<string> {
  const hash = createHash('sha256');
  for (const migration of await readMigrations()) hash.update(`${migration.id}:${migration.name}\n${migration.sql}\n`);
  for (const file of ['src/platform/db/migrate.ts', 'node_modules/@electric-sql/pglite/package.json', 'node_modules/@agendajs/postgres-backend/package.json']) {
    hash.update(await readFile(path.join(ROOT, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** A dump of a migrated embedded database, cached in the temp dir across test runs. */
export async function embeddedTemplate(): Promise<Blob> {
  const file = path.join(os.tmpdir(), `baton-test-template-${await schemaHash()}.tar`);
  try {
    return new Blob([await readFile(file)]);
  } catch (error) {
    if (!isMissingFile(error)) throw error;
  }
  const dump = await buildEmbeddedTemplate();
  // Written aside and renamed: a test file reading the template never sees half of it.
  const partial = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()));
  await rename(partial, file);
  return dump;
}

async function buildEmbeddedTemplate(): Promise<Blob> {
  const pglite = await PGlite.create();
  try {
    // Migrated through the same socket path as Baton's, so the dump is what `migrate` makes.
    const server = new PGliteMultiplexer(pglite, { password: 'template' });
    const address = await server.listen();
    const pool = new pg.Pool({ host: address.host, port: address.port, user: 'postgres', password: 'template', database: 'postgres', max: 1 });
    try {
      await migrate(pool);
    } finally {
      await pool.end();
      await server.close();
    }
    return await pglite.dumpDataDir('none');
  } finally {
    await pglite.close();
  }
}

/**
 * The name of a migrated template database on the server, built under an advisory lock by the
 * first test file that asks (the others wait for it, then clone it).
 */
export async function serverTemplate(serverUrl: string): Promise<string> {
  const name = `baton_template_${await schemaHash()}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query('select pg_advisory_lock(hashtext($1))', [name]);
    const found = await admin.query('select 1 from pg_database where datname = $1', [name]);
    if (found.rowCount === 0) {
      // Built under another name and renamed when complete: a crash mid-way leaves no broken template.
      const building = `${name}_building_${randomBytes(4).toString('hex')}`;
      await admin.query(`create database ${building}`);
      const url = new URL(serverUrl);
      url.pathname = `/${building}`;
      const pool = new pg.Pool({ connectionString: url.toString(), max: 1 });
      try {
        await migrate(pool);
      } finally {
        await pool.end();
      }
      await admin.query(`alter database ${building} rename to ${name}`);
    }
    return name;
  } finally {
    await admin.end();
  }
}

// Not `instanceof Error`: under Jest, Node's own errors come from another realm.
function isMissingFile(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT';
}
