import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { caughtMail } from '../helpers/caught-mail.js';
import { until } from '../helpers/until.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/*
 * Scoring and the handoff to sales, through HTTP, real Postgres, Agenda and the embedded SMTP
 * sink: a lead engages with a nurture email until it crosses the threshold → exactly one handoff,
 * assigned by territory and round robin; the rep's email carries the briefing; a signed webhook
 * reaches a local receiver; the lead leaves its sequences; reject → recycle sequence; SLA
 * reminder then reassignment (seconds here); signed accept links; 50 concurrent events → one handoff.
 */

const API_KEY = 'handoff-api-key-0123456789abcdef';
const WEBHOOK_SECRET = `whsec_${Buffer.from('handoff-webhook-secret-32-bytes!!').toString('base64')}`;

const files = {
  'sequences/nurture.yaml': `id: nurture
name: Nurture
version: 1
entry:
  trigger: { type: lead_created }
  conditions:
    - not: { tag: no-nurture }
steps:
  - id: welcome
    email: welcome
  - id: later
    wait: 30d
  - id: leaks
    email: pipeline-leaks
`,
  'sequences/recycle.yaml': `id: recycle
name: Recycled leads
version: 1
entry:
  trigger: { type: manual }
steps:
  - id: check-in
    email: reengage-check-in
  - id: pause
    wait: 30d
`,
  'scoring.yaml': `half_life: 30d
grades: { A: 30, B: 20, C: 10 }
behaviour:
  - { id: click, label: Clicked an email link, event: email_clicked, points: 20, cap: 40 }
  - { id: pricing, label: Viewed the pricing page, event: page_view, where: { path: /pricing }, points: 30, cap: 60 }
  - { id: demo, label: Asked for a demo, event: form_submit, where: { form: demo }, points: 60 }
fit:
  - { id: exec, label: Decision-maker title, field: title, matches: "\\\\b(vp|head|chief)\\\\b", points: 25 }
  - { id: country, label: In a sales country, field: country, in: [US, FR], points: 5 }
lifecycle:
  mql: { engagement: 50, min_grade: B }
  recycle_sequence: recycle
topics:
  - { id: playbook, label: Pipeline playbook, matches: pipeline-playbook, talking_point: Ask which play fits their quarter. }
  - { id: pricing, label: Pricing, matches: /pricing, talking_point: Offer a pricing walkthrough. }
`,
  'sales-team.yaml': `fallback_owner: dana
sla:
  remind_after: 3s
  reassign_after: 6s
reps:
  - id: alex
    name: Alex Kim
    email: alex@sales.test
    territories:
      - countries: [US]
  - id: sam
    name: Sam Ortiz
    email: sam@sales.test
    territories:
      - countries: [US]
  - id: lea
    name: Léa Martin
    email: lea@sales.test
    territories:
      - countries: [FR]
  - id: dana
    name: Dana Reyes
    email: dana@sales.test
`,
};

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;
let receiver: WebhookReceiver;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-handoff-'));
  await rm(path.join(dir, 'sequences'), { recursive: true, force: true });
  const { mkdir } = await import('node:fs/promises');
  await mkdir(path.join(dir, 'sequences'));
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_SCORING_FILE: path.join(dir, 'scoring.yaml'),
    BATON_SALES_TEAM_FILE: path.join(dir, 'sales-team.yaml'),
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'handoff-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: 'https://baton.test',
    BATON_WEBHOOK_SECRET: WEBHOOK_SECRET,
    BATON_HANDOFF_WEBHOOKS: receiver.url('/crm'),
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
const PERSON = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15';

const mails = () => caughtMail(api, auth);
const mailsTo = (email: string) => mails().mailsTo(email);
const waitForMails = (email: string, count: number, timeoutMs?: number) => mails().waitForMails(email, count, timeoutMs);

const localPath = (url: string) => url.replace('https://baton.test', '');

async function handoffsOf(leadId: string): Promise<Array<{ id: string; status: string; rep: { id: string } }>> {
  const res = await api.get('/api/handoffs').query({ leadId }).set(auth);
  expect(res.status).toBe(200);
  return res.body.items;
}

async function createLead(body: Record<string, unknown>): Promise<string> {
  const res = await api.post('/api/leads').set(auth).send(body);
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function pageView(leadId: string, pagePath: string) {
  const res = await api
    .post('/api/events')
    .set(auth)
    .send({ leadId, type: 'page_view', properties: { path: pagePath } });
  expect(res.status).toBeLessThan(300);
}

let firstHandoff: string;
let secondHandoff: string;
let alexId: string;

describe('the handoff to sales', () => {
  it('hands a lead that crosses the threshold to a rep, once, with a briefing by email and a signed webhook', async () => {
    alexId = await createLead({ email: 'vp@acme.test', firstName: 'Ada', lastName: 'Lovelace', title: 'VP Sales', company: 'Acme', country: 'US' });
    const [welcome] = await waitForMails('vp@acme.test', 1);
    expect(welcome?.subject).toContain('Welcome');

    // A person clicks the playbook link (later than a scanner would: the link's send time moves back a minute).
    const link = /href="(https:\/\/baton\.test\/c\/[^"]+)"/.exec(String(welcome?.html))?.[1] ?? '';
    await baton.database.pool.query(`update tracked_links set created_at = now() - interval '1 minute'`);
    expect((await api.get(localPath(link)).set('User-Agent', PERSON)).status).toBe(302);
    const afterClick = await until(
      () => api.get(`/api/leads/${alexId}/score`).set(auth),
      (res) => res.body.stage === 'lead',
    );
    expect(afterClick.body).toMatchObject({ stage: 'lead', engagement: 20, fit: 30, grade: 'A' });
    expect(await handoffsOf(alexId)).toEqual([]);

    // The pricing page takes engagement to 50: MQL with grade A.
    await pageView(alexId, '/pricing');
    const handoffs = await until(
      () => handoffsOf(alexId),
      (items) => items.length > 0,
    );
    expect(handoffs).toHaveLength(1);
    expect(handoffs[0]).toMatchObject({ status: 'pending', rep: { id: 'alex' } });
    firstHandoff = handoffs[0]?.id ?? '';

    const score = await api.get(`/api/leads/${alexId}/score`).set(auth);
    expect(score.body).toMatchObject({ stage: 'mql', engagement: 50, grade: 'A' });
    expect(score.body.breakdown).toEqual(expect.arrayContaining([expect.objectContaining({ rule: 'pricing', label: 'Viewed the pricing page', points: 30 })]));
    expect(score.body.history.length).toBeGreaterThanOrEqual(2);

    // The rep's email, over SMTP, with the briefing.
    const [repMail] = await waitForMails('alex@sales.test', 1);
    expect(repMail?.subject).toBe('Hot lead: Ada Lovelace (Acme), score 80');
    expect(repMail?.text).toContain('Viewed the pricing page');
    expect(repMail?.text).toContain('Pipeline playbook');
    expect(repMail?.text).toContain('Offer a pricing walkthrough.');
    expect(String(repMail?.html)).toMatch(/https:\/\/baton\.test\/h\/[^"]+/);

    // The webhook, signed the Standard Webhooks way (checked with an independent HMAC).
    const hook = (
      await until(
        async () => receiver.requests.filter((req) => req.path === '/crm'),
        (requests) => requests.length > 0,
      )
    )[0];
    const id = String(hook?.headers['webhook-id']);
    const timestamp = String(hook?.headers['webhook-timestamp']);
    const key = Buffer.from(WEBHOOK_SECRET.slice('whsec_'.length), 'base64');
    expect(hook?.headers['webhook-signature']).toBe(`v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${hook?.body}`).digest('base64')}`);
    const payload = JSON.parse(hook?.body ?? '{}');
    expect(payload).toMatchObject({
      type: 'handoff.assigned',
      data: { handoff: { id: firstHandoff, repId: 'alex' }, briefing: { who: { name: 'Ada Lovelace', fitGrade: 'A' } } },
    });
    expect(payload.data.briefing.whyNow.topContributors.map((entry: { rule: string }) => entry.rule)).toEqual(['pricing', 'click']);
    expect(payload.data.briefing.topics.map((topic: { id: string }) => topic.id)).toEqual(expect.arrayContaining(['playbook', 'pricing']));

    // The lead left its nurture sequence.
    const enrollment = await baton.database.pool.query('select sequence_id, status, exit_reason from enrollments where lead_id = $1', [alexId]);
    expect(enrollment.rows).toEqual([{ sequence_id: 'nurture', status: 'exited', exit_reason: 'handed off to sales' }]);

    const detail = await api.get(`/api/handoffs/${firstHandoff}`).set(auth);
    expect(detail.body.briefing.talkingPoints).toContain('Offer a pricing walkthrough.');
    expect(detail.body.notifications).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ channel: 'email', target: 'alex@sales.test', status: 'sent' }),
        // Webhook URLs can be credentials (Slack's are): the API shows only where they point.
        expect.objectContaining({ channel: 'webhook', target: `http://127.0.0.1:${receiver.port}/…`, status: 'sent' }),
      ]),
    );
  }, 60_000);

  it('assigns by territory, round robin within it', async () => {
    const samLead = await createLead({ email: 'head@globex.test', title: 'Head of Growth', company: 'Globex', country: 'US', tags: ['no-nurture'] });
    const leaLead = await createLead({ email: 'chief@paris.test', title: 'Chief Revenue Officer', company: 'Paris SA', country: 'FR', tags: ['no-nurture'] });
    await api
      .post('/api/events')
      .set(auth)
      .send({ leadId: samLead, type: 'form_submit', properties: { form: 'demo' } });
    await api
      .post('/api/events')
      .set(auth)
      .send({ leadId: leaLead, type: 'form_submit', properties: { form: 'demo' } });
    const sam = await until(
      () => handoffsOf(samLead),
      (items) => items.length > 0,
    );
    const lea = await until(
      () => handoffsOf(leaLead),
      (items) => items.length > 0,
    );
    expect(sam.map((handoff) => handoff.rep.id)).toEqual(['sam']);
    expect(lea.map((handoff) => handoff.rep.id)).toEqual(['lea']);
    secondHandoff = sam[0]?.id ?? '';
  }, 30_000);

  it('rejects a lead back to marketing: engagement reset, the recycle sequence, reasons counted per rule', async () => {
    const rejected = await api.post(`/api/handoffs/${firstHandoff}/reject`).set(auth).send({ reason: 'no budget this year' });
    expect(rejected.status).toBe(200);
    expect(rejected.body).toMatchObject({ status: 'rejected', rejectReason: 'no budget this year', decidedBy: 'api' });
    const score = await api.get(`/api/leads/${alexId}/score`).set(auth);
    expect(score.body).toMatchObject({ stage: 'recycled', engagement: 0, fit: 30 });
    const recycle = await until(
      async () =>
        (await baton.database.pool.query('select sequence_id, status from enrollments where lead_id = $1 and sequence_id = $2', [alexId, 'recycle'])).rows,
      (rows) => rows.length > 0,
    );
    expect(recycle).toEqual([{ sequence_id: 'recycle', status: 'active' }]);
    const checkIn = await waitForMails('vp@acme.test', 2);
    expect(checkIn).toHaveLength(2);

    const again = await api.post(`/api/handoffs/${firstHandoff}/accept`).set(auth).send({});
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('handoff_decided');

    const rejections = await api.get('/api/scoring/rejections').set(auth);
    expect(rejections.body.items).toEqual(
      expect.arrayContaining([
        { rule: 'pricing', label: 'Viewed the pricing page', rejected: 1, reasons: { 'no budget this year': 1 } },
        { rule: 'click', label: 'Clicked an email link', rejected: 1, reasons: { 'no budget this year': 1 } },
      ]),
    );
  }, 30_000);

  it('reminds a rep who does not answer, then reassigns the lead', async () => {
    const reminder = await until(
      async () => (await mailsTo('sam@sales.test')).filter((mail) => mail.subject?.startsWith('Reminder')),
      (mails) => mails.length > 0,
      20_000,
    );
    expect(reminder[0]?.subject).toContain('Hot lead:');
    const moved = await until(
      () => api.get(`/api/handoffs/${secondHandoff}`).set(auth),
      (res) => res.body.rep?.id !== 'sam',
      20_000,
    );
    expect(moved.body).toMatchObject({ status: 'pending', reassignments: 1, rep: { id: 'alex' }, assignment: { reassignedFrom: 'sam' } });
    const toAlex = await until(
      async () => (await mailsTo('alex@sales.test')).filter((mail) => mail.text?.includes('Globex')),
      (mails) => mails.length > 0,
    );
    expect(toAlex).toHaveLength(1);
    // Sam's links went with the lead: they no longer decide anything.
    const samMail = (await mailsTo('sam@sales.test')).find((mail) => !mail.subject?.startsWith('Reminder'));
    const samAccept = /href="(https:\/\/baton\.test\/h\/[^"]+)"/.exec(String(samMail?.html))?.[1] ?? '';
    const refused = await api.post(localPath(samAccept)).type('form').send('');
    expect(refused.status).toBe(409);
    expect(refused.text).toContain('went to another rep');
    expect((await api.get(`/api/handoffs/${secondHandoff}`).set(auth)).body.status).toBe('pending');
  }, 60_000);

  it('accepts through the signed link in the email: GET confirms, POST acts', async () => {
    const mail = (await mailsTo('alex@sales.test')).find((candidate) => candidate.text?.includes('Globex'));
    const links = [...String(mail?.html).matchAll(/href="(https:\/\/baton\.test\/h\/[^"]+)"/g)].map((match) => match[1] ?? '');
    expect(links.length).toBeGreaterThanOrEqual(2);
    const accept = links[0] ?? '';
    const page = await api.get(localPath(accept));
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post">');
    expect((await api.get(`/api/handoffs/${secondHandoff}`).set(auth)).body.status).toBe('pending');
    const done = await api.post(localPath(accept)).type('form').send('');
    expect(done.status).toBe(200);
    const handoff = await api.get(`/api/handoffs/${secondHandoff}`).set(auth);
    expect(handoff.body).toMatchObject({ status: 'accepted', decidedBy: 'rep:alex' });
    expect((await api.get(`/api/leads/${handoff.body.leadId}/score`).set(auth)).body.stage).toBe('sql');
    expect((await api.get(`${localPath(accept)}x`)).status).toBe(404);
  }, 30_000);

  it('makes exactly one handoff when 50 concurrent events each cross the threshold', async () => {
    const leadId = await createLead({ email: 'busy@initech.test', title: 'VP Marketing', company: 'Initech', country: 'US', tags: ['no-nurture'] });
    const responses = await Promise.all(
      Array.from({ length: 50 }, () =>
        api
          .post('/api/events')
          .set(auth)
          .send({ leadId, type: 'form_submit', properties: { form: 'demo' } }),
      ),
    );
    expect(responses.every((res) => res.status < 300)).toBe(true);
    await until(
      () => handoffsOf(leadId),
      (items) => items.length > 0,
    );
    // Give any straggling rescoring time to (wrongly) hand off again.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await handoffsOf(leadId)).toHaveLength(1);
    const rows = await baton.database.pool.query('select count(*)::int as n from handoffs where lead_id = $1', [leadId]);
    expect(rows.rows[0]).toEqual({ n: 1 });
  }, 30_000);

  it('answers bad input with a clear error', async () => {
    expect((await api.get('/api/handoffs').query({ status: 'maybe' }).set(auth)).body.error.details[0].field).toBe('status');
    expect((await api.get('/api/handoffs/not-a-uuid').set(auth)).status).toBe(400);
    expect((await api.get('/h/%E0%A4%A')).status).toBe(400);
    // A validly signed rep link whose id is not a UUID (issue 16: was a 500 from the database).
    const forged = createTokenSigner('handoff-secret-0123456789abcdef0123456789', 'handoff').sign(
      `not-a-uuid:accept:alex:${Math.floor(Date.now() / 1000) + 3600}`,
    );
    for (const res of [await api.get(`/h/${forged}`), await api.post(`/h/${forged}`).type('form').send('')]) {
      expect(res.status).toBe(404);
      expect(res.text).toContain('This link is not valid');
    }
    expect((await api.get('/api/handoffs/00000000-0000-4000-8000-000000000000').set(auth)).status).toBe(404);
    expect((await api.get('/api/leads/00000000-0000-4000-8000-000000000000/score').set(auth)).status).toBe(404);
    const tooLong = await api
      .post(`/api/handoffs/${firstHandoff}/reject`)
      .set(auth)
      .send({ reason: 'x'.repeat(501) });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.error.details[0].field).toBe('reason');
  });
});
