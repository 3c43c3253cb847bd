import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { getCreateIndexesSQL, getCreateTableSQL, getUpdateTimestampTriggerSQL } from '@agendajs/postgres-backend';
import type pg from 'pg';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../migrations/', import.meta.url));

const MIGRATION_FILE = /^(\d{4})_([a-z0-9_]+)\.sql$/;
// Any constant works; it only has to be the same in every Baton process sharing the database.
const MIGRATION_LOCK_KEY = 7_224_001;

export const AGENDA_TABLE = 'agenda_jobs';

function agendaSchemaStatements(): string[] {
  return [getCreateTableSQL(AGENDA_TABLE), ...getCreateIndexesSQL(AGENDA_TABLE), getUpdateTimestampTriggerSQL(AGENDA_TABLE)];
}

export interface Migration {
  id: number;
  name: string;
  sql: string;
}

export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((file) => file.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = MIGRATION_FILE.exec(file);
    if (!match?.[1] || !match[2]) throw new Error(`migration file ${file} must be named NNNN_words.sql`);
    const id = Number(match[1]);
    if (migrations.some((migration) => migration.id === id)) throw new Error(`two migrations are numbered ${match[1]}`);
    migrations.push({ id, name: match[2], sql: await readFile(`${dir}/${file}`, 'utf8') });
  }
  return migrations;
}

/**
 * Applies pending migrations in one transaction under an advisory lock, so two processes starting
 * together apply each migration once, and a failing migration leaves nothing half done.
 * Returns the ids it applied.
 */
export async function migrate(pool: pg.Pool, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await readMigrations());
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(`create table if not exists baton_migrations (
      id integer primary key,
      name text not null,
      applied_at timestamptz(3) not null default now()
    )`);
    // Agenda's tables, from the installed backend's own DDL, under the same lock: its built-in
    // "create if not exists" races when two processes start together (duplicate pg_type). First,
    // so that migrations may index them.
    for (const statement of agendaSchemaStatements()) await client.query(statement);
    const { rows } = await client.query<{ id: number }>('select id from baton_migrations');
    const applied = new Set(rows.map((row) => row.id));
    const done: number[] = [];
    for (const migration of all) {
      if (applied.has(migration.id)) continue;
      await client.query(migration.sql);
      await client.query('insert into baton_migrations (id, name) values ($1, $2)', [migration.id, migration.name]);
      done.push(migration.id);
    }
    await client.query('commit');
    return done;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
