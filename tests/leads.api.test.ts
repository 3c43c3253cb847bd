import type request from 'supertest';
import { createTestApp, type TestApp } from './helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const post = (body: unknown) =>
  t.api
    .post('/api/leads')
    .set(t.auth)
    .send(body as object);

describe('POST /api/leads', () => {
  it('creates a lead with 201 and returns it', async () => {
    const res = await post({
      email: 'grace@navy.example.com',
      firstName: 'Grace',
      lastName: 'Hopper',
      company: 'US Navy',
      title: 'Rear Admiral',
      phone: '+1 202 555 0100',
      timezone: 'America/New_York',
      country: 'us',
      source: 'webinar',
      traits: { employees: 5000, industry: 'defence' },
      tags: ['webinar', 'vip'],
      consent: { status: 'granted', source: 'webinar form', at: '2026-01-02T03:04:05Z', text: 'I agree to receive emails' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      email: 'grace@navy.example.com',
      firstName: 'Grace',
      country: 'US',
      traits: { employees: 5000, industry: 'defence' },
      tags: ['webinar', 'vip'],
      consent: { status: 'granted', source: 'webinar form', at: '2026-01-02T03:04:05.000Z' },
      unsubscribedAt: null,
    });
  });

  it('updates the lead with the same email in any case, with 200, merging traits and adding tags', async () => {
    const res = await post({ email: 'GRACE@Navy.Example.com', title: 'Admiral', traits: { industry: 'computing', cobol: true }, tags: ['vip', 'cobol'] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      email: 'grace@navy.example.com',
      firstName: 'Grace',
      title: 'Admiral',
      traits: { employees: 5000, industry: 'computing', cobol: true },
      tags: ['webinar', 'vip', 'cobol'],
    });
    const list = await t.api.get('/api/leads').query({ email: 'grace@NAVY.example.com' }).set(t.auth);
    expect(list.body.items).toHaveLength(1);
  });

  it('keeps a stored value when a field is sent as null', async () => {
    const res = await post({ email: 'grace@navy.example.com', company: null });
    expect(res.status).toBe(200);
    expect(res.body.company).toBe('US Navy');
  });

  it('stores time zones in their canonical spelling', async () => {
    const res = await post({ email: 'tz@example.com', timezone: 'europe/paris' });
    expect(res.body.timezone).toBe('Europe/Paris');
  });

  it('refuses an update that would take a lead past 100 tags, naming the field', async () => {
    await post({ email: 'many-tags@example.com', tags: Array.from({ length: 60 }, (_, i) => `a${i}`) }).expect(201);
    const res = await post({ email: 'many-tags@example.com', tags: Array.from({ length: 60 }, (_, i) => `b${i}`) });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field: 'tags', location: 'body', message: 'tags would grow to 120; a lead holds at most 100' }]);
  });

  it('removes a trait sent as null, as PATCH does', async () => {
    await post({ email: 'null-trait@example.com', traits: { a: 1, b: 2 } }).expect(201);
    const res = await post({ email: 'null-trait@example.com', traits: { a: null } });
    expect(res.body.traits).toEqual({ b: 2 });
  });

  it('names every bad field at once', async () => {
    const res = await post({ email: 'not-an-email', timezone: 'Mars/Olympus', country: 'France', tags: 'x', favourite: 'blue' });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['country', 'email', 'favourite', 'tags', 'timezone']);
    expect(res.body.error.message).toContain('timezone must be an IANA time zone');
  });

  it('requires an email', async () => {
    const res = await post({ firstName: 'Nobody' });
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([{ field: 'email', location: 'body', message: 'email is required' }]);
  });

  it('refuses consent dated in the future and unknown consent statuses', async () => {
    const res = await post({ email: 'c@example.com', consent: { status: 'maybe', source: 'x', at: '2999-01-01T00:00:00Z' } });
    expect(res.status).toBe(400);
    expect(res.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['consent.at', 'consent.status']);
  });

  it('records an opt-out but never undoes one', async () => {
    const optOut = await post({ email: 'quiet@example.com', unsubscribed: true });
    expect(optOut.body.unsubscribedAt).not.toBeNull();
    const undo = await post({ email: 'quiet@example.com', unsubscribed: false });
    expect(undo.status).toBe(400);
    expect(undo.body.error.details[0]).toMatchObject({ field: 'unsubscribed' });
    const again = await post({ email: 'quiet@example.com', firstName: 'Q' });
    expect(again.body.unsubscribedAt).toBe(optOut.body.unsubscribedAt);
  });
});

describe('GET /api/leads and /api/leads/:id', () => {
  beforeAll(async () => {
    for (let i = 0; i < 7; i++) {
      await post({ email: `page${i}@list.example.com`, company: i % 2 === 0 ? 'Even Corp' : 'Odd Ltd', tags: i < 3 ? ['early'] : [] });
    }
  });

  it('returns one lead by id', async () => {
    const created = await post({ email: 'one@example.com' });
    const res = await t.api.get(`/api/leads/${created.body.id}`).set(t.auth);
    expect(res.status).toBe(200);
    expect(res.body.email).toBe('one@example.com');
  });

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    const missing = await t.api.get('/api/leads/00000000-0000-4000-8000-000000000000').set(t.auth);
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('lead_not_found');
    const malformed = await t.api.get('/api/leads/42').set(t.auth);
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.details[0]).toMatchObject({ field: 'id', location: 'path' });
  });

  it('pages newest first with a cursor until every lead was seen once', async () => {
    const seen: Array<{ email: string; createdAt: string }> = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: request.Response = await t.api
        .get('/api/leads')
        .query({ q: 'list.example.com', limit: 3, ...(cursor ? { cursor } : {}) })
        .set(t.auth);
      expect(res.status).toBe(200);
      seen.push(...res.body.items);
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen.map((lead) => lead.email).sort()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `page${i}@list.example.com`));
    const times = seen.map((lead) => new Date(lead.createdAt).getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('filters by tag and by free text', async () => {
    const byTag = await t.api.get('/api/leads').query({ tag: 'early' }).set(t.auth);
    expect(byTag.body.items.map((lead: { email: string }) => lead.email).sort()).toEqual([
      'page0@list.example.com',
      'page1@list.example.com',
      'page2@list.example.com',
    ]);
    const byText = await t.api.get('/api/leads').query({ q: 'odd ltd' }).set(t.auth);
    expect(byText.body.items).toHaveLength(3);
  });

  it('treats % and _ in the search text literally', async () => {
    const res = await t.api.get('/api/leads').query({ q: '%' }).set(t.auth);
    expect(res.status).toBe(200);
    expect(res.body.items).toEqual([]);
  });

  it('refuses a forged cursor and out-of-range limits, naming the parameter', async () => {
    const forged = await t.api.get('/api/leads').query({ cursor: 'bm90LWEtY3Vyc29y' }).set(t.auth);
    expect(forged.status).toBe(400);
    expect(forged.body.error).toMatchObject({ code: 'invalid_cursor', details: [{ field: 'cursor' }] });
    const limit = await t.api.get('/api/leads').query({ limit: 0 }).set(t.auth);
    expect(limit.status).toBe(400);
    expect(limit.body.error.details[0].field).toBe('limit');
  });
});

describe('PATCH /api/leads/:id', () => {
  it('sets and clears fields, merge-patches traits and replaces tags', async () => {
    const created = await post({ email: 'patch@example.com', company: 'Acme', traits: { a: 1, b: 2 }, tags: ['one', 'two'] });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const res = await t.api
      .patch(`/api/leads/${created.body.id}`)
      .set(t.auth)
      .send({ company: null, title: 'CTO', traits: { a: null, c: 3 }, tags: ['three'] });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ company: null, title: 'CTO', traits: { b: 2, c: 3 }, tags: ['three'] });
    expect(new Date(res.body.updatedAt).getTime()).toBeGreaterThan(new Date(created.body.updatedAt).getTime());
    expect(res.body.createdAt).toBe(created.body.createdAt);
  });

  it('refuses an empty patch and an email that belongs to another lead', async () => {
    const a = await post({ email: 'a-patch@example.com' });
    await post({ email: 'b-patch@example.com' });
    const empty = await t.api.patch(`/api/leads/${a.body.id}`).set(t.auth).send({});
    expect(empty.status).toBe(400);
    const taken = await t.api.patch(`/api/leads/${a.body.id}`).set(t.auth).send({ email: 'B-PATCH@example.com' });
    expect(taken.status).toBe(409);
    expect(taken.body.error).toMatchObject({ code: 'lead_email_taken', details: [{ field: 'email' }] });
  });

  it('answers 404 for an unknown lead', async () => {
    const res = await t.api.patch('/api/leads/00000000-0000-4000-8000-000000000000').set(t.auth).send({ title: 'x' });
    expect(res.status).toBe(404);
  });
});

describe('DELETE /api/leads/:id (erasure)', () => {
  it('removes the lead and its events, and refuses the address afterwards', async () => {
    const created = await post({ email: 'Erase.Me@example.com', firstName: 'Erin' });
    const id: string = created.body.id;
    await t.api
      .post('/api/events')
      .set(t.auth)
      .send({ leadId: id, type: 'page_view', properties: { path: '/pricing' } })
      .expect(202);

    await t.api.delete(`/api/leads/${id}`).set(t.auth).expect(204);

    await t.api.get(`/api/leads/${id}`).set(t.auth).expect(404);
    const events = await t.database.db.selectFrom('events').select('id').where('lead_id', '=', id).execute();
    expect(events).toEqual([]);
    const traces = await t.database.db.selectFrom('suppressions').selectAll().execute();
    expect(traces).toHaveLength(1);
    expect(JSON.stringify(traces)).not.toMatch(/erase\.me/i);

    const again = await post({ email: 'erase.me@EXAMPLE.com' });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('email_suppressed');
    const byEvent = await t.api.post('/api/events').set(t.auth).send({ email: 'erase.me@example.com', type: 'page_view' });
    expect(byEvent.status).toBe(409);
    await t.api.delete(`/api/leads/${id}`).set(t.auth).expect(404);
  });
});

describe('GET /api/leads/:id/export', () => {
  it('returns everything held about the lead as JSON', async () => {
    const created = await post({
      email: 'export@example.com',
      traits: { plan: 'pro' },
      consent: { status: 'granted', source: 'signup', at: '2026-03-01T00:00:00Z' },
    });
    await t.api
      .post('/api/events')
      .set(t.auth)
      .send([
        { leadId: created.body.id, type: 'page_view', properties: { path: '/a' }, occurredAt: '2026-03-02T00:00:00Z' },
        { leadId: created.body.id, type: 'form_submit', properties: { form: 'demo' }, occurredAt: '2026-03-03T00:00:00Z' },
      ])
      .expect(202);
    const res = await t.api.get(`/api/leads/${created.body.id}/export`).set(t.auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-disposition']).toContain(`lead-${created.body.id}.json`);
    expect(res.body.lead).toMatchObject({ email: 'export@example.com', traits: { plan: 'pro' }, consent: { source: 'signup' } });
    expect(res.body.events.map((event: { type: string }) => event.type)).toEqual(['page_view', 'form_submit']);
  });
});

describe('authentication', () => {
  it.each([
    ['no header', {}],
    ['a wrong key', { Authorization: 'Bearer nope' }],
    ['another scheme', { Authorization: 'Basic dGVzdA==' }],
  ])('answers 401 with %s', async (_name, headers) => {
    const res = await t.api.get('/api/leads').set(headers);
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
  });

  it('serves /health without a key', async () => {
    const res = await t.api.get('/health');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', tracking: { pending: 0, dropped: 0 } });
  });
});
