import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { embeddedTemplate, serverTemplate } from './database-template.js';

/*
 * Each test file gets a database of its own: an in-memory PGlite by default, or, when
 * DATABASE_URL is set, a fresh database created on that server and dropped afterwards.
 * A migrated one is cloned from a template migrated once (database-template.ts); an unmigrated
 * one (`migrated: false`, for tests of migrating itself) starts empty.
 */

export const SERVER_URL = process.env.DATABASE_URL ?? null;

export interface TestDatabase extends DatabaseHandle {
  /** URL of the per-file database on the server; null on PGlite. */
  url: string | null;
  drop(): Promise<void>;
}

export async function createTestDatabase(options: { migrated?: boolean; poolSize?: number } = {}): Promise<TestDatabase> {
  const { migrated = true, poolSize = 10 } = options;
  const url = SERVER_URL ? await createServerDatabase(SERVER_URL, migrated ? await serverTemplate(SERVER_URL) : null) : null;
  const template = !url && migrated ? await embeddedTemplate() : undefined;
  const handle = await openDatabase({ url, embeddedDir: 'memory', poolSize, ...(template ? { embeddedTemplate: template } : {}) });
  // A no-op on a clone; kept so that a template could never hide a migration that fails.
  if (migrated) await migrate(handle.pool);
  return {
    ...handle,
    url,
    async drop() {
      await handle.close();
      if (url && SERVER_URL) await dropServerDatabase(SERVER_URL, databaseName(url));
    },
  };
}

async function createServerDatabase(serverUrl: string, template: string | null): Promise<string> {
  const name = `baton_test_${randomBytes(6).toString('hex')}`;
  await withAdminClient(serverUrl, (client) => client.query(`create database ${name}${template ? ` template ${template}` : ''}`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function dropServerDatabase(serverUrl: string, name: string): Promise<void> {
  await withAdminClient(serverUrl, (client) => client.query(`drop database if exists ${name} with (force)`));
}

function databaseName(url: string): string {
  return new URL(url).pathname.slice(1);
}

async function withAdminClient<T>(serverUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
