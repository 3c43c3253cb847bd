import { openDatabase } from '../../src/platform/db/database.js';
import { createLogger } from '../../src/platform/logger.js';
import { createScheduler, type Scheduler } from '../../src/platform/scheduler.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

let database: TestDatabase;
let scheduler: Scheduler;
const ran: Array<{ n: number }> = [];

beforeAll(async () => {
  database = await createTestDatabase();
  scheduler = createScheduler(database.pool, createLogger('silent'), 'test-worker', [
    // A short lock lifetime: Agenda keeps a lockLifetime/2 timer alive after each run (see scheduler.ts).
    { name: 'record', handler: async (data: unknown) => void ran.push(data as { n: number }), lockLifetimeMs: 2000 },
  ]);
  await scheduler.start();
});

afterAll(async () => {
  await scheduler.stop(1000);
  await database.drop();
  // Let Agenda's leftover liveness timer (max(processEvery, lockLifetime) / 2) fire, so Jest exits cleanly.
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

describe("scheduler (Agenda on Baton's database)", () => {
  it('runs a job that another process scheduled for now, woken by NOTIFY rather than the next poll', async () => {
    // A second scheduler with its own connections stands for the API process: it defines no job,
    // so only the worker above can run it, and only a notification can wake it before its poll.
    // (On PGlite both share the one embedded server, as processes cannot share it anyway.)
    const other = await openDatabase({ url: database.url, embeddedDir: 'memory', poolSize: 2 });
    const pool = database.url ? other.pool : database.pool;
    const api = createScheduler(pool, createLogger('silent'), 'test-api', []);
    await api.start(); // with no definitions it runs nothing, but its channel publishes
    await new Promise((resolve) => setTimeout(resolve, 5500)); // let the worker's first poll pass
    const started = Date.now();
    await api.agenda.now('record', { n: 1 });
    while (ran.length === 0 && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ran).toEqual([{ n: 1 }]);
    // The poll interval is five seconds; a run well before it came through LISTEN/NOTIFY.
    expect(Date.now() - started).toBeLessThan(2000);
    await api.stop(1000);
    await other.close();
  });

  it("keeps its jobs in the same database as Baton's tables", async () => {
    const { rows } = await database.pool.query(`select count(*)::int as n from agenda_jobs where name = 'record'`);
    expect(rows[0].n).toBe(1);
  });
});
