/*
 * Creating an embedded database runs PostgreSQL's initdb inside WebAssembly, and WebAssembly
 * memory never shrinks: a process that had created its database kept ~600 MB it no longer used
 * (a first start sat at 880 MB of RSS, a restart of the same directory at 400 MB). So a new data
 * directory is created by a short-lived child process, whose memory goes back to the system when
 * it exits, and Baton then opens the finished directory exactly as a restart does.
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

// argv after `-e`: the PGlite module's URL, the data directory, the settings as JSON.
const CHILD_SCRIPT = `
const [moduleUrl, dataDir, settings] = process.argv.slice(1);
const { PGlite } = await import(moduleUrl);
const db = await PGlite.create({ dataDir, postgresqlconf: JSON.parse(settings) });
await db.query('select 1');
await db.close();
`;

/** Whether `dataDir` already holds a database (initdb writes PG_VERSION into it). */
export async function holdsDatabase(dataDir: string): Promise<boolean> {
  try {
    await access(path.join(dataDir, 'PG_VERSION'));
    return true;
  } catch {
    return false;
  }
}

export async function createDatabaseInChildProcess(dataDir: string, settings: readonly string[]): Promise<void> {
  const moduleUrl = pathToFileURL(createRequire(import.meta.url).resolve('@electric-sql/pglite')).href;
  try {
    await run(process.execPath, ['--input-type=module', '-e', CHILD_SCRIPT, moduleUrl, dataDir, JSON.stringify(settings)], {
      timeout: 5 * 60_000,
      maxBuffer: 4 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new Error(`could not create the embedded database in ${dataDir}${stderr ? `: ${stderr.split('\n').slice(-3).join(' ')}` : ''}`, { cause: error });
  }
}
