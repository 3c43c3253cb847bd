import { CHILD_TABLES, LEAD_TABLES } from '../../src/privacy/privacy.repository.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/*
 * GDPR access (GET /api/leads/:id/export) promises everything Baton holds about the lead. Which
 * tables hold lead data is read from the schema, not listed here: every table with a lead_id
 * column or a foreign key to leads, and every table hanging off one of those by foreign key. A
 * table added by a future migration fails this test until the export (and this test's one row
 * for it) covers it.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

/** Lead-scoped tables from the catalogue: by lead_id or a foreign key to leads, then their children, to any depth. */
async function leadDataTables(): Promise<string[]> {
  const { rows } = await t.database.pool.query<{ table_name: string }>(`
    with recursive scoped(table_name) as (
      select 'leads'::text
      union
      select c.table_name::text from information_schema.columns c
        join information_schema.tables tb on tb.table_schema = c.table_schema and tb.table_name = c.table_name and tb.table_type = 'BASE TABLE'
        where c.table_schema = current_schema() and c.column_name = 'lead_id'
      union
      select child.relname::text from scoped s
        join pg_class parent on parent.relname = s.table_name and parent.relnamespace = current_schema()::regnamespace
        join pg_constraint fk on fk.confrelid = parent.oid and fk.contype = 'f'
        join pg_class child on child.oid = fk.conrelid
    )
    select table_name from scoped where table_name <> 'leads' order by table_name`);
  return rows.map((row) => row.table_name);
}

// Where each table's rows appear in the export document.
type ExportDocument = Record<string, unknown> & {
  enrollments: Array<Record<string, unknown>>;
  handoffs: Array<Record<string, unknown>>;
  pending: Record<string, unknown>;
  webhooks: Array<Record<string, unknown>>;
  lifecycle: Record<string, unknown>;
};
const asRows = (value: unknown): unknown[] => (Array.isArray(value) ? value : value === null || value === undefined ? [] : [value]);
const SECTIONS: Record<string, (document: ExportDocument) => unknown[]> = {
  events: (document) => asRows(document.events),
  lead_scores: (document) => asRows(document.score),
  score_history: (document) => asRows(document.scoreHistory),
  score_queue: (document) => asRows(document.pending.scoring),
  trigger_queue: (document) => asRows(document.pending.triggers),
  enrollments: (document) => document.enrollments,
  enrollment_steps: (document) => document.enrollments.flatMap((enrollment) => asRows(enrollment.steps)),
  email_queue: (document) => document.enrollments.flatMap((enrollment) => asRows(enrollment.queuedEmail)),
  sends: (document) => asRows(document.sends),
  tracked_links: (document) => asRows(document.trackedLinks),
  handoffs: (document) => document.handoffs,
  handoff_notifications: (document) => document.handoffs.flatMap((handoff) => asRows(handoff.notifications)),
  webhook_events: (document) => document.webhooks,
  webhook_deliveries: (document) => document.webhooks.flatMap((event) => asRows(event.deliveries)),
  opt_in_requests: (document) => asRows(document.optIns),
  lead_preferences: (document) => asRows(document.preferences),
  lifecycle_changes: (document) => asRows(document.lifecycle.changes),
  funnel_leads: (document) => asRows(document.lifecycle.funnel),
  experiment_assignments: (document) => asRows(document.experiments),
  delivery_feedback: (document) => asRows(document.deliveryFeedback),
  send_attempts: (document) => (document.sends as Array<Record<string, unknown>>).flatMap((send) => asRows(send.attempts)),
  visitors: (document) => asRows(document.visitors),
  visitor_events: (document) => (document.visitors as Array<Record<string, unknown>>).flatMap((visitor) => asRows(visitor.events)),
};

describe('the GDPR export', () => {
  it('reads every table the schema ties to a lead', async () => {
    const tables = await leadDataTables();
    expect(tables.length).toBeGreaterThanOrEqual(12);
    expect(tables).toEqual([...new Set([...LEAD_TABLES.filter((table) => table !== 'leads'), ...Object.keys(CHILD_TABLES)])].sort());
  });

  it("holds the lead's rows from every one of those tables, and the consent proof", async () => {
    const lead = (
      await t.api
        .post('/api/leads')
        .set(t.auth)
        .send({ email: 'everything@example.com', consent: { status: 'granted', source: 'signup form', at: '2026-03-01T00:00:00Z', text: 'v3' } })
    ).body as { id: string };
    await t.api
      .post('/api/events')
      .set(t.auth)
      .send({ leadId: lead.id, type: 'page_view', properties: { path: '/pricing' } })
      .expect(202);
    const sql = (text: string, values: unknown[] = [lead.id]) => t.database.pool.query(text, values);
    // One row in each lead table, as the engine would leave them mid-sequence and mid-handoff.
    await sql(`insert into lead_scores (lead_id, stage, total) values ($1, 'mql', 72)`);
    await sql(`insert into score_history (lead_id, total, engagement, fit, grade, stage, cause) values ($1, 72, 60, 12, 'A', 'mql', 'form_submit')`);
    await sql(`insert into score_queue (lead_id) values ($1) on conflict do nothing`);
    await sql(`insert into trigger_queue (lead_id, kind) values ($1, 'lead_created')`);
    const enrollment = (
      await sql(`insert into enrollments (lead_id, sequence_id, sequence_version, current_step) values ($1, 'nurture', 1, 'welcome') returning id`)
    ).rows[0] as { id: string };
    await sql(`insert into email_queue (enrollment_id, step_id) values ($1, 'welcome')`, [enrollment.id]);
    const send = (
      await sql(
        `insert into sends (enrollment_id, step_id, lead_id, template, message_id, status) values ($2, 'welcome', $1, 'welcome', '<m1@baton.test>', 'sent') returning id`,
        [lead.id, enrollment.id],
      )
    ).rows[0] as { id: string };
    await sql(`insert into tracked_links (send_id, lead_id, url) values ($2, $1, 'https://example.com/pricing')`, [lead.id, send.id]);
    const handoff = (
      await sql(
        `insert into handoffs (lead_id, rep_id, assignment, score, briefing) values ($1, 'alex', '{"reason":"territory"}', '{"total":72}', '{"who":{"name":"Ev"}}') returning id`,
      )
    ).rows[0] as { id: string };
    await sql(`insert into handoff_notifications (handoff_id, kind, channel, target, rep_id) values ($1, 'assigned', 'email', 'alex@sales.test', 'alex')`, [
      handoff.id,
    ]);
    const told = (await sql(`insert into webhook_events (type, lead_id, lead) values ('lead.created', $1, '{"email":"everything@example.com"}') returning id`))
      .rows[0] as { id: string };
    await sql(`insert into webhook_deliveries (event_id, event_type, endpoint) values ($1, 'lead.created', 'crm')`, [told.id]);
    await sql(
      `insert into opt_in_requests (lead_id, form_id, wording_version, wording, requested_ip, requested_user_agent, confirmed_at, confirmed_ip) values ($1, 'newsletter', 'nl-1', 'Send me the newsletter', '203.0.113.7', 'Firefox', now(), '203.0.113.8')`,
    );
    await sql(`insert into experiment_assignments (lead_id, sequence_id, step_id, arm_id, enrollment_id) values ($1, 'nurture', 'subject-test', 'short', $2)`, [
      lead.id,
      enrollment.id,
    ]);
    await sql(
      `insert into delivery_feedback (send_id, lead_id, kind, status, source, recipient_domain) values ($2, $1, 'soft_bounce', '4.2.2', 'dsn', 'example.com')`,
      [lead.id, send.id],
    );
    await sql(`insert into send_attempts (send_id, failed_attempts) values ($1, 1)`, [send.id]);
    await sql(`insert into visitors (id, lead_id) values ('visitor-0123456789abcdef', $1)`);
    await sql(
      `insert into visitor_events (id, visitor_id, type, properties, occurred_at) values (gen_random_uuid(), 'visitor-0123456789abcdef', 'page_view', '{"path":"/pricing"}', now())`,
      [],
    );
    await sql(`insert into lead_preferences (lead_id, paused_until, left_topics) values ($1, now() + interval '30 days', '{product-news}')`);

    const res = await t.api.get(`/api/leads/${lead.id}/export`).set(t.auth);
    expect(res.status).toBe(200);
    const document = res.body as ExportDocument;
    expect(document.consent).toMatchObject({ status: 'granted', source: 'signup form', text: 'v3' });
    const missing = (await leadDataTables()).filter((table) => !SECTIONS[table] || (SECTIONS[table]?.(document) ?? []).length === 0);
    expect(missing).toEqual([]);
    expect(document.optIns).toEqual([
      expect.objectContaining({
        form_id: 'newsletter',
        wording_version: 'nl-1',
        requested_ip: '203.0.113.7',
        requested_user_agent: 'Firefox',
        confirmed_ip: '203.0.113.8',
      }),
    ]);
    expect(document.handoffs[0]).toMatchObject({
      rep_id: 'alex',
      briefing: { who: { name: 'Ev' } },
      notifications: [expect.objectContaining({ target: 'alex@sales.test' })],
    });
  });

  it('would catch a table added later: the schema, not a list, says which tables hold lead data', async () => {
    await t.database.pool.query('create table future_notes (id serial primary key, lead_id uuid references leads (id) on delete cascade, note text)');
    try {
      const tables = await leadDataTables();
      expect(tables).toContain('future_notes');
      expect(SECTIONS.future_notes).toBeUndefined();
    } finally {
      await t.database.pool.query('drop table future_notes');
    }
  });

  it('answers 404 for a lead there is not, naming it', async () => {
    const res = await t.api.get('/api/leads/00000000-0000-4000-8000-000000000000/export').set(t.auth);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('lead_not_found');
  });
});
