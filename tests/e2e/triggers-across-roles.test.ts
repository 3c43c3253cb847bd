import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBatonProcess, type BatonProcess } from '../helpers/baton-process.js';
import { createTestDatabase, SERVER_URL, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';

/*
 * Automatic triggers across real processes, as `npm run start:api` and `npm run start:worker`
 * run them:
 * - a lead tagged while only an api process had ever run is enrolled once a worker runs;
 * - a worker killed with SIGKILL while it holds leased trigger changes leaves them to the next
 *   worker within seconds, and each lead is enrolled exactly once.
 * Only on a PostgreSQL server (DATABASE_URL): the api and worker roles need one, since the
 * embedded database belongs to one process. tests/sequences/trigger-queue.test.ts runs the same
 * rules through the services on both.
 */

const API_KEY = 'triggers-roles-api-key-0123456789';
const SECRET = 'triggers-roles-secret-0123456789abcdef0';
const LEADS = 1500;

const VIP = `id: vip
name: VIP
version: 1
entry: { trigger: { type: tag_added, tag: vip } }
steps:
  - id: pause
    wait: 2d
  - id: done
    end: true
`;
const WELCOME = `id: welcome-all
name: Welcome every new lead
version: 1
entry: { trigger: { type: lead_created } }
steps:
  - id: pause
    wait: 2d
  - id: done
    end: true
`;

const processes: BatonProcess[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const baton of processes.splice(0)) {
    if (baton.child.exitCode === null && baton.child.signalCode === null) {
      const exited = new Promise((resolve) => baton.child.once('exit', resolve));
      baton.child.kill('SIGKILL');
      await exited;
    }
  }
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A content directory holding `files`, a data directory, and on a server a database of its own. */
async function environment(files: Record<string, string>): Promise<{ env: Record<string, string>; database: TestDatabase | null }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'baton-triggers-roles-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const content = path.join(dir, 'sequences');
  await mkdir(content);
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(content, name), text);
  const database = SERVER_URL ? await createTestDatabase({ migrated: false, poolSize: 2 }) : null;
  if (database) cleanups.push(() => database.drop());
  const env: Record<string, string> = {
    PORT: '0',
    BATON_DATA_DIR: path.join(dir, 'data'),
    BATON_SEQUENCES_DIR: content,
    BATON_API_KEY: API_KEY,
    BATON_SECRET: SECRET,
    BATON_PUBLIC_URL: 'https://baton.test',
    LOG_LEVEL: 'info',
  };
  if (database?.url) env.DATABASE_URL = database.url;
  return { env, database };
}

async function start(env: Record<string, string>, role: 'api' | 'worker' | 'all'): Promise<BatonProcess> {
  const baton = await startBatonProcess(env, ['--role', role]);
  processes.push(baton);
  return baton;
}

const call = (baton: BatonProcess, route: string, init: RequestInit = {}) =>
  fetch(`${baton.url}${route}`, { ...init, headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json', ...init.headers } });

const onServer = SERVER_URL ? describe : describe.skip;
onServer('triggers across process roles', () => {
  it('enrolls a lead tagged while only an api process had run, once the first worker runs', async () => {
    const { env, database } = await environment({ 'vip.yaml': VIP });
    if (!database) throw new Error('only on a server');
    const api = await start(env, 'api');
    const created = await call(api, '/api/leads', { method: 'POST', body: JSON.stringify({ email: 'early-vip@example.com', tags: ['vip'] }) });
    expect(created.status).toBe(201);
    expect(await api.terminate()).toBe(0);

    await start(env, 'worker');
    const enrolled = async () => (await database.pool.query<{ sequence_id: string; lead_id: string }>('select sequence_id, lead_id from enrollments')).rows;
    expect(await until(enrolled, (rows) => rows.length > 0, 30_000)).toEqual([{ sequence_id: 'vip', lead_id: ((await created.json()) as { id: string }).id }]);
  }, 180_000);

  it('gives the trigger changes a killed worker held to the next worker within seconds, enrolling each lead once', async () => {
    const { env, database } = await environment({ 'welcome-all.yaml': WELCOME });
    if (!database) throw new Error('only on a server');
    const victim = await start(env, 'worker');
    const api = await start(env, 'api');
    const csv = `email\n${Array.from({ length: LEADS }, (_, index) => `takeover-${index}@example.com`).join('\n')}\n`;
    const imported = await call(api, '/api/leads/import', { method: 'POST', body: csv, headers: { 'Content-Type': 'text/csv' } });
    expect(await imported.json()).toMatchObject({ created: LEADS });

    // Killed while it holds changes it leased from the queue.
    const leased = async () => (await database.pool.query<{ id: string }>('select id from trigger_queue where taken_at is not null')).rows.map((row) => row.id);
    await until(leased, (ids) => ids.length > 0, 60_000);
    victim.child.kill('SIGKILL');
    await new Promise((resolve) => victim.child.once('exit', resolve));
    const held = await leased();
    expect(held.length).toBeGreaterThan(0);
    await start(env, 'worker');
    const startedAt = Date.now();
    // The next worker drains oldest first: the killed worker's changes come up first, once their lease ran out.
    const left = await until(
      async () =>
        (await database.pool.query<{ n: number }>('select count(*)::int as n from trigger_queue where id = any($1::bigint[])', [held])).rows[0]?.n ?? 0,
      (n) => n === 0,
      90_000,
    );
    const tookMs = Date.now() - startedAt;
    console.log(`trigger takeover: ${held.length} leased changes held by the killed worker, handled ${tookMs} ms after the next worker started`);
    expect(left).toBe(0);
    expect(tookMs).toBeLessThan(45_000);
    const enrolled = await until(
      async () => (await database.pool.query<{ n: number }>('select count(*)::int as n from enrollments')).rows[0]?.n ?? 0,
      (n) => n === LEADS,
      120_000,
    );
    expect(enrolled).toBe(LEADS);
    const twice = await database.pool.query('select lead_id from enrollments group by lead_id having count(*) > 1');
    expect(twice.rows).toEqual([]);
    expect((await database.pool.query<{ n: number }>('select count(*)::int as n from trigger_queue')).rows[0]?.n).toBe(0);
  }, 300_000);
});
