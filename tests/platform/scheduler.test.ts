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

describe('scheduler (Agenda on Baton\'s database)', () => {
  it('runs a job scheduled for now without waiting for the next poll', async () => {
    const started = Date.now();
    await scheduler.agenda.now('record', { n: 1 });
    while (ran.length === 0 && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(ran).toEqual([{ n: 1 }]);
    // The poll interval is five seconds; a run well before it came through LISTEN/NOTIFY.
    expect(Date.now() - started).toBeLessThan(4000);
  });

  it('keeps its jobs in the same database as Baton\'s tables', async () => {
    const { rows } = await database.pool.query(`select count(*)::int as n from agenda_jobs where name = 'record'`);
    expect(rows[0].n).toBe(1);
  });
});
