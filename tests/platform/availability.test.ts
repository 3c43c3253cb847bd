import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/platform/db/database.js';
import { DatabaseUnavailableError } from '../../src/platform/db/database-errors.js';
import { startThrowawayPostgres, throwawayPostgresUnavailable, type ThrowawayPostgres } from '../helpers/throwaway-postgres.js';

/*
 * The database gate (src/platform/db/availability.ts) on a PostgreSQL cluster of the test's own,
 * frozen with SIGSTOP and restarted: what a request waiting on the database gets, and what is
 * left in the pool afterwards.
 */

const unavailable = throwawayPostgresUnavailable();
if (unavailable) console.warn(`database gate tests skipped: ${unavailable}`);
const describeWithCluster = unavailable ? describe.skip : describe;

describeWithCluster('the database gate', () => {
  let cluster: ThrowawayPostgres;
  let database: DatabaseHandle;
  const states: string[] = [];

  beforeAll(async () => {
    cluster = await startThrowawayPostgres();
    database = await openDatabase({
      url: cluster.url,
      embeddedDir: 'memory',
      poolSize: 3,
      connectTimeoutMs: 1000,
      onAvailabilityChange: (state) => states.push(state),
    });
    await sql`create table notes (id serial primary key, body text not null)`.execute(database.db);
  }, 120_000);

  afterAll(async () => {
    await database?.close().catch(() => undefined);
    await cluster?.destroy();
  }, 60_000);

  async function inTransactionElsewhere(): Promise<number> {
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ count: string }>(
        `select count(*) from pg_stat_activity where state like 'idle in transaction%' and pid <> pg_backend_pid()`,
      );
      return Number(rows[0]?.count ?? 0);
    } finally {
      await client.end();
    }
  }

  it('abandons a transaction caught by a freeze within 2 s, refuses new queries at once, and leaves no open transaction behind', async () => {
    const caught = database.db.transaction().execute(async (trx) => {
      await sql`insert into notes (body) values ('before the freeze')`.execute(trx);
      await cluster.freeze();
      await sql`insert into notes (body) values ('during the freeze')`.execute(trx);
    });
    const started = Date.now();
    const outcome = await caught.then(
      () => 'committed',
      (error: unknown) => error,
    );
    const waited = Date.now() - started;
    expect(outcome).toBeInstanceOf(DatabaseUnavailableError);
    expect(waited).toBeLessThan(2000);
    expect(database.availability()).toBe('down');

    const refusedAt = Date.now();
    await expect(sql`select 1`.execute(database.db)).rejects.toBeInstanceOf(DatabaseUnavailableError);
    expect(Date.now() - refusedAt).toBeLessThan(100);

    await cluster.thaw();
    const deadline = Date.now() + 5000;
    while (database.availability() === 'down' && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(database.availability()).toBe('up');
    // The abandoned connection was destroyed, so its transaction was rolled back, not handed on.
    const { rows } = await sql<{ body: string }>`select body from notes`.execute(database.db);
    expect(rows).toEqual([]);
    expect(await inTransactionElsewhere()).toBe(0);
  }, 60_000);

  it('answers a wait for a full pool with an error for that query alone, without calling the database down', async () => {
    states.length = 0;
    const sleepers = [1, 2, 3].map(() => sql`select pg_sleep(2)`.execute(database.db));
    const waiting = sql`select 1`.execute(database.db).then(
      () => 'ran',
      (error: unknown) => error,
    );
    // The pool (3) is busy for 2 s and the wait is 1 s: the fourth query times out; the server is fine.
    expect(await waiting).toBeInstanceOf(DatabaseUnavailableError);
    await Promise.all(sleepers);
    expect(states).toEqual([]);
    expect(database.availability()).toBe('up');
  }, 30_000);

  it('goes down when the server restarts and comes back up by itself', async () => {
    states.length = 0;
    await cluster.restart(500);
    const deadline = Date.now() + 10_000;
    let answered = false;
    while (!answered && Date.now() < deadline) {
      answered = await sql`select 1`.execute(database.db).then(
        () => true,
        () => false,
      );
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answered).toBe(true);
    expect(database.availability()).toBe('up');
  }, 60_000);
});
