import { migrate, readMigrations } from '../../src/platform/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/*
 * Migration 0021 on an installation that already has leads, scores and handoffs: the history it
 * reconstructs (docs/reporting.md, "History before 0021") and the rollups computed from it.
 */

let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase({ migrated: false });
  const all = await readMigrations();
  await migrate(
    database.pool,
    all.filter((migration) => migration.id < 21),
  );
  const sql = (text: string, values: unknown[] = []) => database.pool.query(text, values);
  const lead = async (email: string, source: string | null) =>
    (await sql(`insert into leads (email, source, created_at) values ($1, $2, '2026-01-01T10:00:00Z') returning id`, [email, source])).rows[0]?.id as string;
  const [won, lost, quiet] = [await lead('won@acme.test', 'webinar'), await lead('lost@acme.test', 'ads'), await lead('quiet@acme.test', null)];
  await sql(
    `insert into lead_scores (lead_id, stage, stage_changed_at) values ($1, 'customer', '2026-01-20T10:00:00Z'), ($2, 'disqualified', '2026-01-12T10:00:00Z'), ($3, 'lead', '2026-01-03T10:00:00Z')`,
    [won, lost, quiet],
  );
  await sql(
    `insert into score_history (lead_id, at, total, engagement, fit, grade, stage, cause) values
    ($1, '2026-01-02T10:00:00Z', 5, 5, 0, 'C', 'subscriber', 'event'), ($1, '2026-01-05T10:00:00Z', 20, 20, 0, 'C', 'lead', 'event'),
    ($2, '2026-01-04T10:00:00Z', 20, 20, 0, 'C', 'lead', 'event')`,
    [won, quiet],
  );
  await sql(
    `insert into handoffs (lead_id, status, rep_id, assignment, score, briefing, created_at, decided_at, reminded_at) values
    ($1, 'converted', 'alex', '{}', '{}', '{}', '2026-01-10T10:00:00Z', '2026-01-20T10:00:00Z', null),
    ($2, 'rejected', 'sam', '{}', '{}', '{}', '2026-01-08T10:00:00Z', '2026-01-12T10:00:00Z', '2026-01-08T14:00:00Z')`,
    [won, lost],
  );
  await sql(`update handoffs set reject_reason = 'student' where lead_id = $1`, [lost]);
  await migrate(database.pool);
});

afterAll(async () => {
  await database.drop();
});

const history = async (email: string) =>
  (
    await database.pool.query(
      `select c.from_stage, c.to_stage, c.at, c.cause from lifecycle_changes c join leads l on l.id = c.lead_id where l.email = $1 order by c.at, c.id`,
      [email],
    )
  ).rows;

describe('migration 0021 on existing data', () => {
  it("rebuilds each lead's history from its creation, score history, handoffs and current stage", async () => {
    expect(await history('won@acme.test')).toEqual([
      { from_stage: null, to_stage: 'subscriber', at: new Date('2026-01-01T10:00:00Z'), cause: 'created' },
      { from_stage: 'subscriber', to_stage: 'lead', at: new Date('2026-01-05T10:00:00Z'), cause: 'backfill: score history' },
      { from_stage: 'lead', to_stage: 'mql', at: new Date('2026-01-10T10:00:00Z'), cause: 'backfill: handoff' },
      { from_stage: 'mql', to_stage: 'customer', at: new Date('2026-01-20T10:00:00Z'), cause: 'backfill: handoff decision' },
    ]);
    expect(await history('lost@acme.test')).toEqual([
      { from_stage: null, to_stage: 'subscriber', at: new Date('2026-01-01T10:00:00Z'), cause: 'created' },
      { from_stage: 'subscriber', to_stage: 'mql', at: new Date('2026-01-08T10:00:00Z'), cause: 'backfill: handoff' },
      { from_stage: 'mql', to_stage: 'disqualified', at: new Date('2026-01-12T10:00:00Z'), cause: 'backfill: handoff decision' },
    ]);
    expect((await history('quiet@acme.test')).map((row) => [row.to_stage, row.cause])).toEqual([
      ['subscriber', 'created'],
      ['lead', 'backfill: score history'],
    ]);
  });

  it('fills the rollups the report reads', async () => {
    const { rows } = await database.pool.query(
      `select l.email, f.source, f.rep_id, f.lead_at, f.mql_at, f.customer_at, f.disqualified_at, f.mql_left_at from funnel_leads f join leads l on l.id = f.lead_id order by l.email`,
    );
    expect(rows).toEqual([
      {
        email: 'lost@acme.test',
        source: 'ads',
        rep_id: 'sam',
        lead_at: null,
        mql_at: new Date('2026-01-08T10:00:00Z'),
        customer_at: null,
        disqualified_at: new Date('2026-01-12T10:00:00Z'),
        mql_left_at: new Date('2026-01-12T10:00:00Z'),
      },
      {
        email: 'quiet@acme.test',
        source: null,
        rep_id: null,
        lead_at: new Date('2026-01-04T10:00:00Z'),
        mql_at: null,
        customer_at: null,
        disqualified_at: null,
        mql_left_at: null,
      },
      {
        email: 'won@acme.test',
        source: 'webinar',
        rep_id: 'alex',
        lead_at: new Date('2026-01-05T10:00:00Z'),
        mql_at: new Date('2026-01-10T10:00:00Z'),
        customer_at: new Date('2026-01-20T10:00:00Z'),
        disqualified_at: null,
        mql_left_at: new Date('2026-01-20T10:00:00Z'),
      },
    ]);
    const handoffs = await database.pool.query(
      `select rep_id, disqualified, reject_reason, breached_by, converted_at is not null as converted from funnel_handoffs order by rep_id`,
    );
    expect(handoffs.rows).toEqual([
      { rep_id: 'alex', disqualified: false, reject_reason: null, breached_by: [], converted: true },
      { rep_id: 'sam', disqualified: true, reject_reason: 'student', breached_by: ['sam'], converted: false },
    ]);
  });

  it('records changes made after it with the triggers', async () => {
    const {
      rows: [row],
    } = await database.pool.query(`select id from leads where email = 'quiet@acme.test'`);
    await database.pool.query(`update lead_scores set stage = 'mql', stage_changed_at = '2026-02-01T10:00:00Z' where lead_id = $1`, [row?.id]);
    expect((await history('quiet@acme.test')).at(-1)).toEqual({ from_stage: 'lead', to_stage: 'mql', at: new Date('2026-02-01T10:00:00Z'), cause: 'handoff' });
    const {
      rows: [funnel],
    } = await database.pool.query(`select lead_left_at, mql_at from funnel_leads where lead_id = $1`, [row?.id]);
    expect(funnel).toEqual({ lead_left_at: new Date('2026-02-01T10:00:00Z'), mql_at: new Date('2026-02-01T10:00:00Z') });
  });
});
