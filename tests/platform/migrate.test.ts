import { migrate, readMigrations } from '../../src/platform/db/migrate.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase({ migrated: false });
});
afterAll(async () => {
  await database.drop();
});

describe('migrations', () => {
  it('are numbered files read in order', async () => {
    const migrations = await readMigrations();
    expect(migrations.map((migration) => migration.id)).toEqual([...migrations.map((migration) => migration.id)].sort((a, b) => a - b));
    expect(migrations[0]).toMatchObject({ id: 1, name: 'leads_and_events' });
  });

  it('apply once even when two processes start together, and not again on a second run', async () => {
    const all = await readMigrations();
    // A second pool stands for a second process; on PGlite both share the embedded server.
    const other = database.url ? await openDatabase({ url: database.url, embeddedDir: 'memory', poolSize: 2 }) : null;
    const [first, second] = await Promise.all([migrate(database.pool), migrate(other?.pool ?? database.pool)]);
    expect([...first, ...second].sort((a, b) => a - b)).toEqual(all.map((migration) => migration.id));
    expect(await migrate(database.pool)).toEqual([]);
    const recorded = await database.pool.query('select id from baton_migrations order by id');
    expect(recorded.rows.map((row) => row.id)).toEqual(all.map((migration) => migration.id));
    await other?.close();
  });

  it('leave nothing behind when one fails', async () => {
    const broken = [{ id: 9001, name: 'half_done', sql: 'create table half_done (id int); select * from no_such_table;' }];
    await expect(migrate(database.pool, broken)).rejects.toThrow('no_such_table');
    const table = await database.pool.query(`select to_regclass('half_done') as t`);
    expect(table.rows[0].t).toBeNull();
    const recorded = await database.pool.query('select id from baton_migrations where id = 9001');
    expect(recorded.rows).toEqual([]);
  });
});
