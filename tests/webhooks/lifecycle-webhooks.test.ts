import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { LIFECYCLE_EVENT_TYPES } from '../../src/webhooks/lifecycle-events.js';
import { createWebhookDeliveriesService } from '../../src/webhooks/webhook-deliveries.service.js';
import { createWebhookSender } from '../../src/webhooks/webhook-sender.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/*
 * Lifecycle webhooks end to end: a whole Baton (HTTP, scoring, handoff, sequence engine, the
 * webhook loop) over real Postgres, with webhooks.yaml pointing at a real receiver on loopback.
 * Signatures are checked with the `standardwebhooks` package, which none of us wrote.
 */

const API_KEY = 'lifecycle-api-key-0123456789abcdef';
const CRM_SECRET = `whsec_${Buffer.from('crm-lifecycle-secret-32-bytes!!!').toString('base64')}`;
const SALES_SECRET = `whsec_${Buffer.from('sales-lifecycle-secret-32-bytes!').toString('base64')}`;

const files = (receiver: WebhookReceiver): Record<string, string> => ({
  'sequences/nurture.yaml': `id: nurture
name: Nurture
version: 1
entry:
  trigger: { type: lead_created }
goals:
  - { event: signed_up }
steps:
  - id: pause
    wait: 4s
  - id: long
    wait: 30d
`,
  'templates/handoff-briefing.mjml': `---
subject: "Hot lead: {{briefing.who.name}}"
category: transactional
---
<mjml><mj-body><mj-section><mj-column><mj-text>{{briefing.who.name}}</mj-text></mj-column></mj-section></mj-body></mjml>
`,
  'scoring.yaml': `half_life: 30d
grades: { A: 30, B: 20, C: 10 }
behaviour:
  - { id: demo, label: Asked for a demo, event: form_submit, where: { form: demo }, points: 60 }
fit:
  - { id: exec, label: Decision-maker title, field: title, matches: "\\\\bvp\\\\b", points: 25 }
  - { id: country, label: In a sales country, field: country, in: [US], points: 5 }
lifecycle:
  mql: { engagement: 50, min_grade: B }
`,
  'sales-team.yaml': `fallback_owner: alex
sla:
  remind_after: 3s
  reassign_after: 6s
reps:
  - { id: alex, name: Alex Kim, email: alex@sales.test, territories: [{ countries: [US] }] }
  - { id: sam, name: Sam Ortiz, email: sam@sales.test, territories: [{ countries: [US] }] }
`,
  'webhooks.yaml': `endpoints:
  - id: crm
    url: ${receiver.url('/crm')}
    events: ["*"]
    secret: \${BATON_WEBHOOK_SECRET_CRM}
  - id: sales
    url: ${receiver.url('/sales')}
    events: [handoff.*]
    secret: ${SALES_SECRET}
  - id: flaky
    url: ${receiver.url('/flaky')}
    events: [lead.created]
    secret: \${BATON_WEBHOOK_SECRET_CRM}
  - id: picky
    url: ${receiver.url('/picky')}
    events: [lead.unsubscribed]
    secret: \${BATON_WEBHOOK_SECRET_CRM}
`,
});

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;
let receiver: WebhookReceiver;
let pickyAccepts = false;
const auth = { Authorization: `Bearer ${API_KEY}` };

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  let flakyCalls = 0;
  receiver.answer((response, req) => {
    if (req.path === '/flaky') return void (++flakyCalls === 1 ? response.writeHead(503).end('down for maintenance') : response.writeHead(200).end('ok'));
    if (req.path === '/picky') return void (pickyAccepts ? response.writeHead(204).end() : response.writeHead(400).end('unknown field: unsubscribedAt'));
    response.writeHead(204).end();
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-lifecycle-'));
  await mkdir(path.join(dir, 'sequences'));
  await mkdir(path.join(dir, 'templates'));
  for (const [file, text] of Object.entries(files(receiver))) await writeFile(path.join(dir, file), text);
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_TEMPLATES_DIR: path.join(dir, 'templates'),
    BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'lifecycle-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: 'https://baton.test',
    BATON_WEBHOOK_SECRET_CRM: CRM_SECRET,
    BATON_WEBHOOK_ALLOW_PRIVATE: 'true',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  api = request(baton.url ?? '');
}, 120_000);

afterAll(async () => {
  await baton?.stop();
  await database?.drop();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
  // Agenda's last poll timer, as in tests/e2e/handoff.test.ts.
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

interface Hook {
  id: string;
  type: string;
  timestamp: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- received JSON, checked by the expectations
  data: Record<string, any>;
}

/** The requests an endpoint got, each verified with the standardwebhooks library, parsed. */
function received(endpoint: string, secret = CRM_SECRET): Hook[] {
  const verifier = new Webhook(secret);
  return receiver.requests
    .filter((req) => req.path === endpoint)
    .map((req: ReceivedRequest) => {
      const headers = {
        'webhook-id': String(req.headers['webhook-id']),
        'webhook-timestamp': String(req.headers['webhook-timestamp']),
        'webhook-signature': String(req.headers['webhook-signature']),
      };
      const payload = verifier.verify(req.body, headers) as Omit<Hook, 'id'>;
      return { id: headers['webhook-id'], ...payload };
    });
}

const hooksAbout = (type: string, leadId: string) => received('/crm').filter((hook) => hook.type === type && hook.data.lead?.id === leadId);
const waitForHook = (type: string, leadId: string, timeoutMs = 15_000) =>
  until(
    async () => hooksAbout(type, leadId),
    (hooks) => hooks.length > 0,
    timeoutMs,
  );

async function createLead(body: Record<string, unknown>): Promise<string> {
  const res = await api.post('/api/leads').set(auth).send(body);
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function handoffOf(leadId: string): Promise<{ id: string; rep: { id: string } }> {
  const res = await until(
    () => api.get('/api/handoffs').query({ leadId }).set(auth),
    (answer) => answer.body.items?.length > 0,
  );
  return res.body.items[0];
}

const ids: Record<'converted' | 'accepted' | 'rejected' | 'ignored', string> = { converted: '', accepted: '', rejected: '', ignored: '' };

describe('lifecycle webhooks', () => {
  it('announces a lead, its enrollment, and its conversion by the sequence goal', async () => {
    ids.converted = await createLead({
      email: 'grace@example.test',
      firstName: 'Grace',
      lastName: 'Hopper',
      company: 'Navy',
      country: 'US',
      tags: ['vip'],
      traits: { plan: 'pro' },
    });
    const [created] = await waitForHook('lead.created', ids.converted);
    expect(created).toMatchObject({
      type: 'lead.created',
      data: {
        lead: {
          id: ids.converted,
          email: 'grace@example.test',
          firstName: 'Grace',
          lastName: 'Hopper',
          company: 'Navy',
          title: null,
          phone: null,
          country: 'US',
          timezone: null,
          tags: ['vip'],
          traits: { plan: 'pro' },
        },
      },
    });
    expect(Object.keys(created?.data.lead ?? {}).sort()).toEqual([
      'company',
      'country',
      'createdAt',
      'email',
      'firstName',
      'id',
      'lastName',
      'phone',
      'source',
      'tags',
      'timezone',
      'title',
      'traits',
      'unsubscribedAt',
    ]);
    expect(created?.data.lead.unsubscribedAt).toBeNull();
    expect(created?.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

    const [entered] = await waitForHook('enrollment.entered', ids.converted);
    expect(entered?.data.enrollment).toMatchObject({ sequenceId: 'nurture', sequenceVersion: 1, status: 'active', endedAt: null, exitReason: null });
    expect((await api.post('/api/events').set(auth).send({ leadId: ids.converted, type: 'signed_up' })).status).toBeLessThan(300);

    const [converted] = await waitForHook('enrollment.converted', ids.converted);
    expect(converted?.data.enrollment).toMatchObject({
      id: entered?.data.enrollment.id,
      sequenceId: 'nurture',
      status: 'converted',
      exitReason: 'goal signed_up',
    });
    expect(converted?.data.enrollment.endedAt).toEqual(expect.any(String));
  }, 30_000);

  it('announces an unsubscribe', async () => {
    expect((await api.patch(`/api/leads/${ids.converted}`).set(auth).send({ unsubscribed: true })).status).toBe(200);
    const [unsubscribed] = await waitForHook('lead.unsubscribed', ids.converted);
    expect(unsubscribed?.data).toEqual({
      lead: expect.objectContaining({ id: ids.converted, email: 'grace@example.test' }),
      unsubscribedAt: expect.any(String),
    });
    expect(unsubscribed?.data.lead.unsubscribedAt).toBe(unsubscribed?.data.unsubscribedAt);
  }, 20_000);

  it('announces the handoff, its stage change and the exit from nurture, then accept and convert', async () => {
    ids.accepted = await createLead({ email: 'vp.one@acme.test', title: 'VP Sales', country: 'US' });
    await waitForHook('enrollment.entered', ids.accepted);
    await api
      .post('/api/events')
      .set(auth)
      .send({ leadId: ids.accepted, type: 'form_submit', properties: { form: 'demo' } });
    const handoff = await handoffOf(ids.accepted);
    const [assigned] = await waitForHook('handoff.assigned', ids.accepted);
    expect(assigned?.data.handoff).toEqual({
      id: handoff.id,
      status: 'pending',
      repId: handoff.rep.id,
      createdAt: expect.any(String),
      assignedAt: expect.any(String),
      reassignments: 0,
      decidedAt: null,
      decidedBy: null,
      rejectReason: null,
    });
    const toMql = await until(
      async () => hooksAbout('lead.stage_changed', ids.accepted).filter((hook) => hook.data.stage.to === 'mql'),
      (hooks) => hooks.length > 0,
    );
    expect(toMql[0]?.data).toEqual({
      lead: expect.objectContaining({ id: ids.accepted, title: 'VP Sales' }),
      stage: { from: expect.any(String), to: 'mql', changedAt: expect.any(String) },
    });
    const [exited] = await waitForHook('enrollment.exited', ids.accepted);
    expect(exited?.data.enrollment).toMatchObject({ sequenceId: 'nurture', status: 'exited', exitReason: 'handed off to sales' });

    expect((await api.post(`/api/handoffs/${handoff.id}/accept`).set(auth).send({})).status).toBe(200);
    const [accepted] = await waitForHook('handoff.accepted', ids.accepted);
    expect(accepted?.data.handoff).toMatchObject({ id: handoff.id, status: 'accepted', decidedBy: 'api', decidedAt: expect.any(String) });
    expect((await api.post(`/api/handoffs/${handoff.id}/convert`).set(auth).send({})).status).toBe(200);
    const [converted] = await waitForHook('handoff.converted', ids.accepted);
    expect(converted?.data.handoff).toMatchObject({ id: handoff.id, status: 'converted' });
    const toCustomer = await until(
      async () => hooksAbout('lead.stage_changed', ids.accepted).filter((hook) => hook.data.stage.to === 'customer'),
      (hooks) => hooks.length > 0,
    );
    expect(toCustomer[0]?.data.stage.from).toBe('sql');
  }, 30_000);

  it('announces a rejection with its reason, and a reassignment after the SLA', async () => {
    ids.rejected = await createLead({ email: 'vp.two@acme.test', title: 'VP Marketing', country: 'US' });
    ids.ignored = await createLead({ email: 'vp.three@acme.test', title: 'VP Ops', country: 'US' });
    await waitForHook('enrollment.entered', ids.rejected);
    await waitForHook('enrollment.entered', ids.ignored);
    for (const leadId of [ids.rejected, ids.ignored])
      await api
        .post('/api/events')
        .set(auth)
        .send({ leadId, type: 'form_submit', properties: { form: 'demo' } });
    const rejected = await handoffOf(ids.rejected);
    expect((await api.post(`/api/handoffs/${rejected.id}/reject`).set(auth).send({ reason: 'student' })).status).toBe(200);
    const [rejection] = await waitForHook('handoff.rejected', ids.rejected);
    expect(rejection?.data.handoff).toMatchObject({ id: rejected.id, status: 'rejected', rejectReason: 'student' });

    const ignored = await handoffOf(ids.ignored);
    const [reassigned] = await waitForHook('handoff.reassigned', ids.ignored, 20_000);
    expect(reassigned?.data.handoff).toMatchObject({ id: ignored.id, status: 'pending', reassignments: 1, previousRepId: ignored.rep.id });
    expect(reassigned?.data.handoff.repId).not.toBe(ignored.rep.id);
  }, 40_000);

  it('delivered every event type once to the endpoint that wants them all, each correctly signed', async () => {
    const crm = received('/crm');
    expect([...new Set(crm.map((hook) => hook.type))].sort()).toEqual([...LIFECYCLE_EVENT_TYPES].sort());
    // One message per webhook-id: nothing was sent twice.
    expect(new Set(crm.map((hook) => hook.id)).size).toBe(crm.length);
    const count = (type: string, leadId: string) => crm.filter((hook) => hook.type === type && hook.data.lead?.id === leadId).length;
    for (const leadId of Object.values(ids)) {
      expect(count('lead.created', leadId)).toBe(1);
      expect(count('enrollment.entered', leadId)).toBe(1);
    }
    expect(count('enrollment.converted', ids.converted)).toBe(1);
    expect(count('lead.unsubscribed', ids.converted)).toBe(1);
    for (const leadId of [ids.accepted, ids.rejected, ids.ignored]) {
      expect(count('handoff.assigned', leadId)).toBe(1);
      expect(count('enrollment.exited', leadId)).toBe(1);
    }
    expect(
      count('handoff.accepted', ids.accepted) +
        count('handoff.converted', ids.accepted) +
        count('handoff.rejected', ids.rejected) +
        count('handoff.reassigned', ids.ignored),
    ).toBe(4);
  });

  it('sends an endpoint only the events its filter names, signed with its own secret', async () => {
    const sales = received('/sales', SALES_SECRET);
    expect(sales.length).toBeGreaterThanOrEqual(7);
    expect(sales.every((hook) => hook.type.startsWith('handoff.'))).toBe(true);
    expect(() => received('/sales', CRM_SECRET)).toThrow();
    // The same event reaches each endpoint under the same webhook-id.
    const crmIds = new Set(received('/crm').map((hook) => hook.id));
    expect(sales.every((hook) => crmIds.has(hook.id))).toBe(true);
  });

  it('retries a failing receiver after the backoff, and lists the attempts and the last response', async () => {
    const firstFlaky = receiver.requests.find((req) => req.path === '/flaky');
    const firstId = String(firstFlaky?.headers['webhook-id']);
    const listed = await until(
      () => api.get('/api/webhooks/deliveries').query({ endpoint: 'flaky', limit: 200 }).set(auth),
      (res) => res.body.items?.length === 4,
    );
    const first = listed.body.items.find((item: { eventId: string }) => `msg_${item.eventId}` === firstId);
    expect(first).toMatchObject({ endpoint: 'flaky', eventType: 'lead.created' });
    const delivered = await until(
      () => api.get(`/api/webhooks/deliveries/${first.id}`).set(auth),
      (res) => res.body.status === 'delivered',
      15_000,
    );
    expect(delivered.body).toMatchObject({
      status: 'delivered',
      attempts: 2,
      lastResponse: { status: 200, body: 'ok' },
      lastError: null,
      nextAttemptAt: null,
      payload: { type: 'lead.created' },
    });
    const attempts = receiver.requests.filter((req) => req.path === '/flaky' && req.headers['webhook-id'] === firstId);
    expect(attempts).toHaveLength(2);
    // The schedule's first retry is 5 s ± 10%, each attempt signed afresh under the same id.
    const gap = Number(attempts[1]?.headers['webhook-timestamp']) - Number(attempts[0]?.headers['webhook-timestamp']);
    expect(gap).toBeGreaterThanOrEqual(4);
    expect(gap).toBeLessThanOrEqual(7);
  }, 30_000);

  it('records a rejected delivery as failed, and redelivers it under the same webhook-id', async () => {
    const failed = await until(
      () => api.get('/api/webhooks/deliveries').query({ endpoint: 'picky', status: 'failed' }).set(auth),
      (res) => res.body.items?.length === 1,
    );
    const original = failed.body.items[0];
    expect(original).toMatchObject({
      eventType: 'lead.unsubscribed',
      status: 'failed',
      attempts: 1,
      lastResponse: { status: 400, body: 'unknown field: unsubscribedAt' },
      nextAttemptAt: null,
    });
    expect(original.lastError).toContain('HTTP 400');

    pickyAccepts = true;
    const queued = await api.post(`/api/webhooks/deliveries/${original.id}/redeliver`).set(auth).send({});
    expect(queued.status).toBe(202);
    expect(queued.body).toMatchObject({ status: 'pending', attempts: 0, redeliveryOf: original.id, eventId: original.eventId });
    const again = await api.post(`/api/webhooks/deliveries/${queued.body.id}/redeliver`).set(auth).send({});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('webhook_delivery_pending');

    const done = await until(
      () => api.get(`/api/webhooks/deliveries/${queued.body.id}`).set(auth),
      (res) => res.body.status === 'delivered',
    );
    expect(done.body).toMatchObject({ status: 'delivered', attempts: 1, lastResponse: { status: 204, body: '' } });
    const sent = receiver.requests.filter((req) => req.path === '/picky');
    expect(sent.map((req) => req.headers['webhook-id'])).toEqual([`msg_${original.eventId}`, `msg_${original.eventId}`]);
    // The original keeps its own record.
    expect((await api.get(`/api/webhooks/deliveries/${original.id}`).set(auth)).body).toMatchObject({ status: 'failed', attempts: 1 });
  }, 20_000);

  it('pages through deliveries newest first and filters by status and event type', async () => {
    const all = await api.get('/api/webhooks/deliveries').query({ limit: 200 }).set(auth);
    expect(all.body.nextCursor).toBeNull();
    const ids = all.body.items.map((item: { id: string }) => Number(item.id));
    expect(ids).toEqual([...ids].sort((a, b) => b - a));

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: request.Response = await api
        .get('/api/webhooks/deliveries')
        .query({ limit: 7, ...(cursor ? { cursor } : {}) })
        .set(auth);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(7);
      seen.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(all.body.items.map((item: { id: string }) => item.id));

    const handoffs = await api.get('/api/webhooks/deliveries').query({ type: 'handoff.assigned', status: 'delivered', limit: 200 }).set(auth);
    expect(handoffs.body.items.length).toBe(6); // three handoffs, to crm and to sales
    expect(
      handoffs.body.items.every((item: { eventType: string; status: string }) => item.eventType === 'handoff.assigned' && item.status === 'delivered'),
    ).toBe(true);
  });

  it('refuses to redeliver to an endpoint that is no longer configured', async () => {
    const withoutEndpoints = createWebhookDeliveriesService({
      db: baton.database.db,
      endpoints: [],
      logger: createLogger('silent'),
      sender: createWebhookSender({ allowPrivate: true, allowInsecure: true }),
    });
    const delivered = await api.get('/api/webhooks/deliveries').query({ endpoint: 'crm', limit: 1 }).set(auth);
    expect(await withoutEndpoints.redeliver(delivered.body.items[0].id, new Date())).toMatchObject({ kind: 'endpoint_gone' });
  });

  it('forgets finished deliveries after 30 days, but keeps one still being tried', async () => {
    const { pool } = baton.database;
    const count = async () => (await pool.query<{ n: number }>('select count(*)::int as n from webhook_deliveries')).rows[0]?.n ?? 0;
    const before = await count();
    const old = await pool.query<{ id: string }>(`select id from webhook_events where type = 'lead.created' order by occurred_at limit 2`);
    const [oldest, second] = old.rows.map((row) => row.id);
    await pool.query(`update webhook_events set occurred_at = occurred_at - interval '31 days' where id = any($1::uuid[])`, [[oldest, second]]);
    await pool.query(`update webhook_deliveries set status = 'pending', next_attempt_at = now() + interval '1 day' where event_id = $1`, [second]);
    const deliveriesOfOldest = Number((await pool.query('select count(*) from webhook_deliveries where event_id = $1', [oldest])).rows[0].count);
    expect(deliveriesOfOldest).toBeGreaterThan(0);

    const service = createWebhookDeliveriesService({
      db: baton.database.db,
      endpoints: [],
      logger: createLogger('silent'),
      sender: createWebhookSender({ allowPrivate: true, allowInsecure: true }),
    });
    expect(await service.prune(new Date())).toBe(1);
    expect(await count()).toBe(before - deliveriesOfOldest);
    expect((await pool.query('select count(*)::int as n from webhook_events where id = $1', [second])).rows[0].n).toBe(1);
  });

  it('records nothing for a change that rolls back', async () => {
    const client = await baton.database.pool.connect();
    try {
      await client.query('begin');
      await client.query(`insert into leads (email) values ('rolled.back@example.test')`);
      const inside = await client.query(`select count(*)::int as n from webhook_events where lead ->> 'email' = 'rolled.back@example.test'`);
      expect(inside.rows[0].n).toBe(1);
      await client.query('rollback');
    } finally {
      client.release();
    }
    const after = await baton.database.pool.query(`select count(*)::int as n from webhook_events where lead ->> 'email' = 'rolled.back@example.test'`);
    expect(after.rows[0].n).toBe(0);
  });

  it('answers bad input to the deliveries API with a 4xx naming the field, never a 5xx', async () => {
    const cases: Array<[string, string, Record<string, unknown> | string | undefined, string | null]> = [
      ['get', '/api/webhooks/deliveries?status=lost', undefined, 'status'],
      ['get', '/api/webhooks/deliveries?type=lead.deleted', undefined, 'type'],
      ['get', '/api/webhooks/deliveries?limit=0', undefined, 'limit'],
      ['get', '/api/webhooks/deliveries?limit=abc', undefined, 'limit'],
      ['get', '/api/webhooks/deliveries?cursor=xyz', undefined, 'cursor'],
      ['get', '/api/webhooks/deliveries?cursor=99999999999999999999999', undefined, 'cursor'],
      ['get', '/api/webhooks/deliveries?endpoint=CRM!', undefined, 'endpoint'],
      ['get', '/api/webhooks/deliveries?colour=red', undefined, 'colour'],
      ['get', '/api/webhooks/deliveries/abc', undefined, 'id'],
      ['get', '/api/webhooks/deliveries/0', undefined, 'id'],
      ['get', '/api/webhooks/deliveries/999999999', undefined, 'id'],
      ['post', '/api/webhooks/deliveries/-1/redeliver', {}, 'id'],
      ['post', '/api/webhooks/deliveries/999999999/redeliver', {}, 'id'],
      ['post', '/api/webhooks/deliveries/1/redeliver', { force: true }, 'force'],
      ['post', '/api/webhooks/deliveries/1/redeliver', '[1,2', null],
    ];
    for (const [method, url, body, field] of cases) {
      const call =
        method === 'get'
          ? api.get(url).set(auth)
          : api
              .post(url)
              .set(auth)
              .set('Content-Type', 'application/json')
              .send(typeof body === 'string' ? body : JSON.stringify(body));
      const res = await call;
      expect([url, res.status >= 400 && res.status < 500]).toEqual([url, true]);
      if (field) expect([url, JSON.stringify(res.body.error.details)]).toEqual([url, expect.stringContaining(field)]);
    }
    expect((await api.get('/api/webhooks/deliveries')).status).toBe(401);
  }, 30_000);

  it('answers 1,000 generated malformed requests to the deliveries API with 4xx, none with 5xx', async () => {
    // Seeded (mulberry32), so a failure can be replayed.
    let state = 20261130;
    const next = () => {
      state = (state + 0x6d2b79f5) | 0;
      let value = Math.imul(state ^ (state >>> 15), 1 | state);
      value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
      return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)] as T;
    const junk = [
      '',
      '0',
      '-1',
      '1.5',
      '1e3',
      'abc',
      '%00',
      '%ff',
      '%E2%80%AE',
      "'",
      '"',
      '[]',
      '{}',
      'null',
      '9'.repeat(19),
      '9'.repeat(40),
      'a'.repeat(3000),
      'lead.*',
      'PENDING',
      'crm%20',
    ];
    // Every value here is wrong for every key below (endpoint ids have their own list: "abc" is one).
    const keys = ['status', 'type', 'limit', 'cursor', 'colour', 'status[]', 'endpoint'];
    const badEndpoints = ['', 'CRM', 'crm%20', '-x', 'a'.repeat(65), '%00', 'a.b', '[]'];
    const bodies = ['{', '[]', 'null', '"x"', '{"force":true}', '{"id":1}', '{"__proto__":{"x":1}}', 'x'.repeat(20_000), '\u0000'];
    const statuses: number[] = [];
    const answered: string[] = [];
    for (let index = 0; index < 1000; index++) {
      const kind = pick(['list', 'get', 'redeliver'] as const);
      const query = () =>
        Array.from({ length: 1 + Math.floor(next() * 3) }, () => {
          const key = pick(keys);
          return `${key}=${key === 'endpoint' ? pick(badEndpoints) : pick(junk)}`;
        }).join('&');
      const url =
        kind === 'list' ? `/api/webhooks/deliveries?${query()}` : `/api/webhooks/deliveries/${pick(junk) || 'x'}${kind === 'redeliver' ? '/redeliver' : ''}`;
      const res =
        kind === 'redeliver'
          ? await api
              .post(url)
              .set(auth)
              .set('Content-Type', pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded']))
              .send(pick(bodies))
          : await api.get(url).set(auth);
      statuses.push(res.status);
      if (res.status < 400) answered.push(`${res.status} ${url}`);
    }
    expect(answered).toEqual([]);
    expect(statuses.filter((status) => status >= 500)).toEqual([]);
    expect(statuses.filter((status) => status < 400)).toEqual([]);
    expect((await api.get('/api/webhooks/deliveries').set(auth)).status).toBe(200);
  }, 120_000);
});
