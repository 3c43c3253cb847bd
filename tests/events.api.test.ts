import type request from 'supertest';
import { createTestApp, type TestApp } from './helpers/test-app.js';

let t: TestApp;
let leadId: string;
beforeAll(async () => {
  t = await createTestApp();
  const res = await t.api.post('/api/leads').set(t.auth).send({ email: 'reader@example.com' });
  leadId = res.body.id;
});
afterAll(async () => {
  await t.close();
});

const postEvents = (body: unknown) =>
  t.api
    .post('/api/events')
    .set(t.auth)
    .send(body as object);

describe('POST /api/events', () => {
  it('stores one event and answers 202 with its id', async () => {
    const res = await postEvents({ leadId, type: 'page_view', properties: { path: '/pricing' }, occurredAt: '2026-05-01T10:00:00Z' });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ ids: [expect.stringMatching(/^[0-9a-f-]{36}$/)], accepted: 1, rejected: [] });
    const stored = await t.database.db.selectFrom('events').selectAll().where('id', '=', res.body.ids[0]).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ lead_id: leadId, type: 'page_view', properties: { path: '/pricing' } });
    expect(stored.occurred_at.toISOString()).toBe('2026-05-01T10:00:00.000Z');
  });

  it('defaults occurredAt to now and properties to {}', async () => {
    const before = Date.now();
    const res = await postEvents({ leadId, type: 'app_login' });
    const stored = await t.database.db.selectFrom('events').selectAll().where('id', '=', res.body.ids[0]).executeTakeFirstOrThrow();
    expect(stored.properties).toEqual({});
    expect(stored.occurred_at.getTime()).toBeGreaterThanOrEqual(before - 5);
  });

  it('stores a batch, creating a lead for an unknown email and reporting each rejected event', async () => {
    const res = await postEvents([
      { leadId, type: 'form_submit', properties: { form: 'demo' } },
      { email: 'New.Visitor@example.com', type: 'page_view', properties: { path: '/blog/x' } },
      { leadId: '00000000-0000-4000-8000-000000000000', type: 'page_view' },
      { email: 'new.visitor@example.com', type: 'page_view', properties: { path: '/blog/y' } },
    ]);
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(3);
    expect(res.body.ids[2]).toBeNull();
    expect(res.body.rejected).toEqual([{ index: 2, field: 'leadId', code: 'lead_not_found', message: expect.stringContaining('no lead has id') }]);
    const visitor = await t.api.get('/api/leads').query({ email: 'new.visitor@example.com' }).set(t.auth);
    expect(visitor.body.items).toHaveLength(1);
    expect(visitor.body.items[0].source).toBe('event');
    const timeline = await t.api.get(`/api/leads/${visitor.body.items[0].id}/timeline`).set(t.auth);
    expect(timeline.body.items).toHaveLength(2);
  });

  it('answers 404 for a single event whose lead does not exist', async () => {
    const res = await postEvents({ leadId: '00000000-0000-4000-8000-000000000000', type: 'page_view' });
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'lead_not_found', details: [{ field: 'leadId' }] });
  });

  it('accepts a batch of 1,000 and refuses 1,001, naming the limit', async () => {
    const batch = Array.from({ length: 1000 }, (_, i) => ({ leadId, type: 'page_view', properties: { path: `/p/${i}` } }));
    const ok = await postEvents(batch);
    expect(ok.status).toBe(202);
    expect(ok.body.accepted).toBe(1000);
    const tooMany = await postEvents([...batch, batch[0]]);
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error.message).toContain('at most 1000 events');
  });

  it('validates every event of a batch and names the bad ones by index', async () => {
    const res = await postEvents([
      { leadId, type: 'ok_event' },
      { leadId, email: 'both@example.com', type: 'page_view' },
      { type: 'page_view' },
      { leadId, type: '1bad type' },
      { leadId, type: 'page_view', occurredAt: '2999-01-01T00:00:00Z' },
      { leadId, type: 'page_view', properties: [] },
    ]);
    expect(res.status).toBe(400);
    const fields = res.body.error.details.map((detail: { field: string }) => detail.field);
    expect(fields).toEqual(['[1]', '[2]', '[3].type', '[4].occurredAt', '[5].properties']);
    const count = await t.database.db
      .selectFrom('events')
      .select(({ fn }) => fn.countAll<string>().as('n'))
      .where('type', '=', 'ok_event')
      .executeTakeFirstOrThrow();
    expect(Number(count.n)).toBe(0);
  });

  it.each(['email_clicked', 'email_opened', 'handoff_accepted', 'unsubscribed'])('refuses the reserved type %s', async (type) => {
    const res = await postEvents({ leadId, type });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toMatchObject({ field: 'type', message: expect.stringContaining('reserved') });
  });

  it('refuses to change a stored event (the table is append-only)', async () => {
    await expect(t.database.pool.query(`update events set type = 'x'`)).rejects.toThrow('append-only');
  });
});

describe('GET /api/leads/:id/timeline', () => {
  it('lists events newest first across pages, optionally by type', async () => {
    const res = await t.api.post('/api/leads').set(t.auth).send({ email: 'timeline@example.com' });
    const id: string = res.body.id;
    const times = ['2026-01-01T00:00:00Z', '2026-01-03T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z', '2026-01-04T00:00:00Z'];
    await postEvents(times.map((occurredAt, i) => ({ leadId: id, type: i % 2 === 0 ? 'page_view' : 'form_submit', occurredAt, properties: { i } }))).expect(
      202,
    );

    const seen: Array<{ occurredAt: string; properties: { i: number } }> = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await t.api
        .get(`/api/leads/${id}/timeline`)
        .query({ limit: 2, ...(cursor ? { cursor } : {}) })
        .set(t.auth);
      expect(page.status).toBe(200);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen.map((event) => event.occurredAt)).toEqual([
      '2026-01-04T00:00:00.000Z',
      '2026-01-03T00:00:00.000Z',
      '2026-01-03T00:00:00.000Z',
      '2026-01-02T00:00:00.000Z',
      '2026-01-01T00:00:00.000Z',
    ]);
    expect(new Set(seen.map((event) => event.properties.i)).size).toBe(5);

    const forms = await t.api.get(`/api/leads/${id}/timeline`).query({ type: 'form_submit' }).set(t.auth);
    expect(forms.body.items.map((event: { properties: { i: number } }) => event.properties.i).sort()).toEqual([1, 3]);
  });

  it('answers 404 for an unknown lead', async () => {
    const res = await t.api.get('/api/leads/00000000-0000-4000-8000-000000000000/timeline').set(t.auth);
    expect(res.status).toBe(404);
  });
});
