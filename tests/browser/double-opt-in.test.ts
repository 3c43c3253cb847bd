import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { caughtMail } from '../helpers/caught-mail.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';

/*
 * Double opt-in and consent end to end: Baton as it starts (forms, sequences, Agenda, the embedded
 * SMTP sink), a person in Chromium filling the newsletter form, the confirmation email in the
 * caught mail, the link's page and its button. Marketing email reaches the person only after the
 * button; a GET of the link confirms nothing. Then: consent withdrawn between two emails of a
 * sequence stops the second, and the ledger says why.
 */

const API_KEY = 'doi-api-key-0123456789abcdef';
const SEQUENCES: Record<string, string> = {
  // Started by the tag the newsletter form adds at confirmation.
  'newsletter-welcome.yaml':
    'id: newsletter-welcome\nname: Newsletter welcome\nversion: 1\ntopic: newsletter\nentry:\n  trigger: { type: tag_added, tag: newsletter }\nsteps:\n  - id: hello\n    email: welcome\n',
  'promo.yaml': 'id: promo\nname: Promotion\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: offer\n    email: welcome\n',
  'two-step.yaml':
    'id: two-step\nname: Two steps\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: first\n    email: welcome\n  - id: pause\n    wait: 4s\n  - id: second\n    email: case-study\n',
};

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;
let browser: TestBrowser;
let baseUrl: string;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  if (!browserDescribe.available) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-doi-'));
  await cp(FIXTURE_CONTENT.forms, path.join(dir, 'forms'), { recursive: true });
  await rm(path.join(dir, 'forms', 'contact-sales.yaml'));
  // The person in the test types faster than the shipped form's two seconds allow.
  const newsletter = path.join(dir, 'forms', 'newsletter.yaml');
  await writeFile(newsletter, (await readFile(newsletter, 'utf8')).replace('min_fill_seconds: 2', 'min_fill_seconds: 0'));
  for (const [name, text] of Object.entries(SEQUENCES)) await writeFile(path.join(dir, name), text);
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const port = await freePort();
  baseUrl = `http://127.0.0.1:${port}`;
  const config = loadConfig({
    PORT: String(port),
    HOST: '127.0.0.1',
    BATON_DATA_DIR: dir,
    BATON_SEQUENCES_DIR: dir,
    BATON_FORMS_DIR: path.join(dir, 'forms'),
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_COMPANY_NAME: 'Acme Test',
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'doi-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: baseUrl,
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  api = request(baseUrl);
  browser = await launchBrowser();
});

afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
  // Agenda leaves a liveness timer behind each run (see src/platform/scheduler.ts).
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

const auth = { Authorization: `Bearer ${API_KEY}` };
const mails = () => caughtMail(api, auth);
const leadId = async (email: string): Promise<string> => (await api.get('/api/leads').query({ email }).set(auth)).body.items[0]?.id ?? '';
const ledger = async (id: string) =>
  (
    await baton.database.pool.query<{ step_id: string; status: string; outcome: string }>(
      'select step_id, status, outcome from sends where lead_id = $1 order by claimed_at',
      [id],
    )
  ).rows;

browserDescribe('double opt-in, from the form to the confirm button', () => {
  it("sends marketing email only after the button; the link's GET confirms nothing", async () => {
    const { page, errors } = await browser.newPage();
    await page.goto(`${baseUrl}/forms/newsletter`);
    await page.getByRole('textbox', { name: 'Email' }).fill('ana.lopez@example.com');
    await page.getByRole('textbox', { name: 'First name' }).fill('Ana');
    await page.getByLabel("I want to receive Acme's monthly newsletter").check();
    await Promise.all([page.waitForURL(`${baseUrl}/forms/newsletter`), page.getByRole('button', { name: 'Subscribe' }).click()]);
    await page.waitForSelector('text=press the button in it to confirm', { timeout: 10_000 }).catch(async (error: unknown) => {
      throw new Error(`${String(error)}\n${await page.textContent('body')}`);
    });

    const id = await leadId('ana.lopez@example.com');
    expect(id).not.toBe('');
    // Unconfirmed: a marketing email due now is skipped, and the ledger says why.
    expect((await api.post('/api/sequences/promo/enroll').set(auth).send({ leadId: id })).status).toBe(201);
    await until(
      () => ledger(id),
      (rows) => rows.length === 1 && rows[0]?.status !== 'claimed',
      30_000,
    );
    expect(await ledger(id)).toEqual([{ step_id: 'offer', status: 'skipped', outcome: 'double opt-in not confirmed' }]);

    const [confirmation] = await mails().waitForMails('ana.lopez@example.com', 1, 30_000);
    expect(confirmation?.subject).toBe('Please confirm your subscription to Acme Test');
    const link = /(http:\/\/127\.0\.0\.1:\d+\/forms\/confirm\/[A-Za-z0-9_.-]+)/.exec(confirmation?.text ?? '')?.[1] ?? '';
    expect(link).not.toBe('');

    // A link scanner's GETs: the page shows a button and confirms nothing.
    expect((await api.get(new URL(link).pathname)).status).toBe(200);
    await page.goto(link);
    await browser.screenshot(page, 'double-opt-in-confirm-page');
    const pending = await baton.database.pool.query('select confirmed_at from opt_in_requests where lead_id = $1', [id]);
    expect(pending.rows).toEqual([{ confirmed_at: null }]);
    expect((await api.get(`/api/leads/${id}`).set(auth)).body.tags).toEqual([]);
    expect(await mails().mailsTo('ana.lopez@example.com')).toHaveLength(1);

    await Promise.all([page.waitForURL(link), page.getByRole('button', { name: 'Yes, confirm my subscription' }).click()]);
    await page.waitForSelector('text=is confirmed');
    const proof = await baton.database.pool.query('select confirmed_at, confirmed_ip, confirmed_user_agent from opt_in_requests where lead_id = $1', [id]);
    expect(proof.rows).toEqual([{ confirmed_at: expect.any(Date), confirmed_ip: '127.0.0.1', confirmed_user_agent: expect.stringContaining('Chrome') }]);

    // The tag added at confirmation starts the newsletter sequence: its welcome email now goes.
    const [, welcome] = await mails().waitForMails('ana.lopez@example.com', 2, 40_000);
    expect(welcome?.subject).toBe('Welcome, Ana: your pipeline playbook');
    await until(
      () => ledger(id),
      (rows) => rows.length === 2 && rows[1]?.status === 'sent',
      30_000,
    );
    expect(await ledger(id)).toEqual([
      { step_id: 'offer', status: 'skipped', outcome: 'double opt-in not confirmed' },
      { step_id: 'hello', status: 'sent', outcome: 'sent' },
    ]);
    expect(errors).toEqual([]);
  });
});

browserDescribe('consent withdrawn between two emails', () => {
  it('does not send the next due email, and the ledger says why', async () => {
    const created = await api
      .post('/api/leads')
      .set(auth)
      .send({
        email: 'will.withdraw@example.com',
        firstName: 'Will',
        consent: { status: 'granted', source: 'webinar form', at: '2026-11-02T09:00:00Z', text: 'webinar-1' },
      });
    expect(created.status).toBe(201);
    expect((await api.post('/api/sequences/two-step/enroll').set(auth).send({ leadId: created.body.id })).status).toBe(201);
    await mails().waitForMails('will.withdraw@example.com', 1, 30_000);
    const withdrawn = await api
      .patch(`/api/leads/${created.body.id}`)
      .set(auth)
      .send({ consent: { status: 'withdrawn', source: 'phone call', at: new Date().toISOString() } });
    expect(withdrawn.status).toBe(200);

    await until(
      () => ledger(created.body.id),
      (rows) => rows.length === 2 && rows[1]?.status !== 'claimed',
      40_000,
    );
    expect(await ledger(created.body.id)).toEqual([
      { step_id: 'first', status: 'sent', outcome: 'sent' },
      { step_id: 'second', status: 'skipped', outcome: 'consent withdrawn' },
    ]);
    expect(await mails().mailsTo('will.withdraw@example.com')).toHaveLength(1);
    const enrollment = await baton.database.pool.query('select status, exit_reason from enrollments where lead_id = $1', [created.body.id]);
    expect(enrollment.rows).toEqual([{ status: 'exited', exit_reason: 'email skipped: consent_withdrawn' }]);
  });
});
