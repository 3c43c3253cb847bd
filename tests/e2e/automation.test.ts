import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createHmac } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/*
 * Automatic enrollment and the rules across sequences, through HTTP, real Postgres, Agenda and
 * the embedded SMTP sink: lead_created, tag_added and event triggers (with property filters and
 * entry conditions), the per-lead frequency cap with priorities, a signed webhook step, an
 * update_lead step, and per-step statistics.
 */

const API_KEY = 'auto-api-key-0123456789abcdef';
const WEBHOOK_SECRET = `whsec_${Buffer.from('automation-webhook-secret-32-bytes!').toString('base64')}`;

const sequences = (hookUrl: string): Record<string, string> => ({
  'on-signup.yaml': `id: on-signup
name: Welcome every new lead
version: 1
priority: 5
entry:
  trigger: { type: lead_created }
  conditions:
    - not: { tag: customer }
steps:
  - id: hello
    email: welcome
  - id: done
    end: true
`,
  'vip.yaml': `id: vip
name: VIP fast lane
version: 1
priority: 20
entry:
  trigger: { type: tag_added, tag: vip }
steps:
  - id: story
    email: case-study
  - id: tell-crm
    webhook: { url: "${hookUrl}", secret: crm }
  - id: mark
    update_lead: { add_tags: [vip-done] }
  - id: done
    end: true
`,
  'demo.yaml': `id: demo
name: Demo requested
version: 1
entry:
  trigger: { type: event, event: form_submit, where: { form: demo } }
steps:
  - id: invite
    email: demo-invite
  - id: done
    end: true
`,
});

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-auto-'));
  for (const [file, text] of Object.entries(sequences(receiver.url('/crm')))) await writeFile(path.join(dir, file), text);
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_SEQUENCES_DIR: dir,
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'auto-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: 'https://baton.test',
    BATON_FREQUENCY_CAP: '1/1h',
    BATON_WEBHOOK_SECRET_CRM: WEBHOOK_SECRET,
    BATON_WEBHOOK_ALLOW_PRIVATE: 'true',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  api = request(baton.url ?? '');
});

afterAll(async () => {
  await baton?.stop();
  await database?.drop();
  await receiver?.close();
  await rm(dir, { recursive: true, force: true });
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

const auth = { Authorization: `Bearer ${API_KEY}` };

async function subjectsTo(email: string): Promise<string[]> {
  const res = await api.get('/api/dev/mail').query({ to: email }).set(auth);
  return (res.body.items as Array<{ subject: string }>).map((item) => item.subject).reverse();
}

const enrollmentsOf = async (leadId: string) =>
  (
    await baton.database.pool.query<{ sequence_id: string; status: string; current_step: string }>(
      'select sequence_id, status, current_step from enrollments where lead_id = $1 order by sequence_id',
      [leadId],
    )
  ).rows;

describe('automatic enrollment', () => {
  it('enrolls a new lead through lead_created and sends the first email', async () => {
    const lead = await api.post('/api/leads').set(auth).send({ email: 'new@example.com', firstName: 'Nia' });
    expect(lead.status).toBe(201);
    expect(
      await until(
        () => subjectsTo('new@example.com'),
        (subjects) => subjects.length > 0,
      ),
    ).toEqual(['Welcome, Nia: your pipeline playbook']);
  });

  it('does not enroll a lead the entry conditions exclude', async () => {
    const lead = await api
      .post('/api/leads')
      .set(auth)
      .send({ email: 'customer@example.com', tags: ['customer'] });
    expect(lead.status).toBe(201);
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await enrollmentsOf(lead.body.id)).toEqual([]);
  });

  it('starts a sequence on a matching event, and not on an event whose properties differ', async () => {
    const matching = await api
      .post('/api/events')
      .set(auth)
      .send({ email: 'demo@example.com', type: 'form_submit', properties: { form: 'demo', page: '/pricing' } });
    expect(matching.status).toBe(202);
    const other = await api
      .post('/api/events')
      .set(auth)
      .send({ email: 'newsletter@example.com', type: 'form_submit', properties: { form: 'newsletter' } });
    expect(other.status).toBe(202);
    // Both events created their lead (source "event"): both are in on-signup; only one is in demo.
    const subjects = await until(
      () => subjectsTo('demo@example.com'),
      (found) => found.length > 0,
    );
    expect(subjects).toHaveLength(1);
    const leads = await baton.database.pool.query<{ email: string; id: string }>(
      `select id, email from leads where email in ('demo@example.com', 'newsletter@example.com')`,
    );
    const idOf = (email: string) => leads.rows.find((row) => row.email === email)?.id ?? '';
    await until(
      () => enrollmentsOf(idOf('newsletter@example.com')),
      (rows) => rows.length > 0,
    );
    expect((await enrollmentsOf(idOf('demo@example.com'))).map((row) => row.sequence_id)).toEqual(['demo', 'on-signup']);
    expect((await enrollmentsOf(idOf('newsletter@example.com'))).map((row) => row.sequence_id)).toEqual(['on-signup']);
  });
});

describe('the frequency cap and priorities', () => {
  it('lets the higher-priority sequence send first and holds the other at the cap', async () => {
    // Created with the tag: lead_created (priority 5) and tag_added vip (priority 20) at once.
    const lead = await api
      .post('/api/leads')
      .set(auth)
      .send({ email: 'vip@example.com', firstName: 'Vic', tags: ['vip'] });
    expect(lead.status).toBe(201);
    expect(
      await until(
        () => subjectsTo('vip@example.com'),
        (subjects) => subjects.length > 0,
      ),
    ).toEqual(['How Northwind doubled sales-accepted leads in a quarter']);
    await new Promise((resolve) => setTimeout(resolve, 3000));
    // One marketing email per hour: the welcome waits, its enrollment still at its email step.
    expect(await subjectsTo('vip@example.com')).toHaveLength(1);
    const enrollments = await enrollmentsOf(lead.body.id);
    expect(enrollments).toEqual([
      { sequence_id: 'on-signup', status: 'active', current_step: 'hello' },
      { sequence_id: 'vip', status: 'completed', current_step: 'done' },
    ]);
    const ledger = await baton.database.pool.query('select step_id, status from sends where lead_id = $1', [lead.body.id]);
    expect(ledger.rows).toEqual([{ step_id: 'story', status: 'sent' }]);
  });
});

describe('webhook and update_lead steps', () => {
  it('posted a signed webhook for the VIP lead and tagged the lead', async () => {
    const posts = await until(
      async () => receiver.requests.filter((received) => received.path === '/crm'),
      (found) => found.length > 0,
    );
    expect(posts).toHaveLength(1);
    const [post] = posts;
    const id = String(post?.headers['webhook-id']);
    const timestamp = String(post?.headers['webhook-timestamp']);
    const key = Buffer.from(WEBHOOK_SECRET.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${post?.body}`).digest('base64');
    expect(post?.headers['webhook-signature']).toBe(`v1,${expected}`);
    expect(Math.abs(Number(timestamp) - Date.now() / 1000)).toBeLessThan(60);
    const body = JSON.parse(post?.body ?? '{}');
    expect(body).toMatchObject({
      type: 'sequence.step',
      data: { sequence: { id: 'vip' }, step: { id: 'tell-crm' }, lead: { email: 'vip@example.com', firstName: 'Vic' } },
    });

    const lead = await api.get('/api/leads').query({ email: 'vip@example.com' }).set(auth);
    expect(lead.body.items[0].tags).toEqual(expect.arrayContaining(['vip', 'vip-done']));
  });
});

describe('GET /api/sequences/:id/stats', () => {
  it('counts per step what happened', async () => {
    const res = await api.get('/api/sequences/vip/stats').set(auth);
    expect(res.status).toBe(200);
    expect(res.body.totals).toMatchObject({ entered: 1, completed: 1, active: 0 });
    const byId = Object.fromEntries((res.body.steps as Array<{ id: string }>).map((step) => [step.id, step]));
    expect(byId.story).toMatchObject({ kind: 'email', entered: 1, sent: 1, bounced: 0, humanOpens: 0, humanClicks: 0, unsubscribed: 0 });
    expect(byId['tell-crm']).toMatchObject({ kind: 'webhook', entered: 1, sent: 0 });
    expect(byId.done).toMatchObject({ entered: 1, completed: 1 });

    const signup = await api.get('/api/sequences/on-signup/stats').set(auth);
    // nia, demo, newsletter, vip entered; vip is held at the cap.
    expect(signup.body.steps[0]).toMatchObject({ id: 'hello', entered: 4, sent: 3, active: 1 });
  });

  it('answers 404 naming the id for an unknown sequence', async () => {
    const res = await api.get('/api/sequences/nope/stats').set(auth);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'sequence_not_found' });
  });
});
