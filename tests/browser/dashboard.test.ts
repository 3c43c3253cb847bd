import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

/*
 * The dashboard in headless Chromium against a running Baton (real Postgres, Agenda, the SMTP
 * sink): sign in, open a sequence funnel and an email preview, open a lead with its score, accept
 * a handoff, read a caught email; at 375 px and by keyboard; no console errors. Screenshots go to
 * artifacts/screenshots/.
 */

const API_KEY = 'dashboard-api-key-0123456789abcdef';
let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let browser: TestBrowser;
let leadId: string;

beforeAll(async () => {
  if (!browserDescribe.available) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-dashboard-'));
  await mkdir(path.join(dir, 'sequences'));
  await writeFile(
    path.join(dir, 'sequences', 'welcome.yaml'),
    'id: welcome\nname: Welcome series\nversion: 1\nentry:\n  trigger: { type: lead_created }\nsteps:\n  - id: hello\n    email: welcome\n  - id: later\n    wait: 30d\n',
  );
  await writeFile(
    path.join(dir, 'scoring.yaml'),
    'behaviour:\n  - { id: demo, label: Asked for a demo, event: form_submit, where: { form: demo }, points: 60 }\nlifecycle:\n  mql: { engagement: 50 }\n',
  );
  await writeFile(path.join(dir, 'sales-team.yaml'), 'fallback_owner: alex\nreps:\n  - { id: alex, name: Alex Kim, email: alex@sales.test }\n');
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  baton = await startBaton(
    loadConfig({
      PORT: '0',
      BATON_DATA_DIR: dir,
      BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
      BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
      BATON_API_KEY: API_KEY,
      BATON_SECRET: 'dashboard-secret-0123456789abcdef0123456789',
      ...(database?.url ? { DATABASE_URL: database.url } : {}),
    }),
    createLogger('silent'),
  );
  const api = request(baton.url ?? '');
  const auth = { Authorization: `Bearer ${API_KEY}` };
  leadId = (
    await api.post('/api/leads').set(auth).send({ email: 'grace@navy.test', firstName: 'Grace', lastName: 'Hopper', company: 'US Navy', title: 'Rear Admiral' })
  ).body.id;
  await until(
    async () => (await api.get('/api/dev/mail').query({ to: 'grace@navy.test' }).set(auth)).body.items.length,
    (count) => count > 0,
  );
  await api
    .post('/api/events')
    .set(auth)
    .send({ leadId, type: 'form_submit', properties: { form: 'demo' } });
  await until(
    async () => (await api.get('/api/handoffs').set(auth)).body.items.length,
    (count) => count > 0,
  );
  browser = await launchBrowser();
}, 60_000);

afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

browserDescribe('the dashboard in a browser', () => {
  it('signs in with the API key, shows funnels, a lead with its score, accepts a handoff and reads a caught email', async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${baton.url}/dashboard/leads`);
    expect(page.url()).toContain('/dashboard/login');
    await page.fill('#key', 'wrong-key-wrong-key-wrong-key');
    await Promise.all([page.waitForURL(/\/dashboard\/login$/), page.click('button:has-text("Sign in")')]);
    expect(await page.textContent('[role=alert]')).toContain('not the API key');
    // That refusal is a 401, which Chromium logs as a failed load: expected, and the only one.
    expect(errors).toEqual([expect.stringContaining('status of 401')]);
    errors.length = 0;
    await page.fill('#key', API_KEY);
    await Promise.all([page.waitForURL(/\/dashboard\/leads$/), page.click('button:has-text("Sign in")')]);

    const follow = (url: RegExp, selector: string) => Promise.all([page.waitForURL(url), page.click(selector)]);
    await follow(/\/dashboard\/sequences$/, 'nav >> text=Sequences');
    expect(await page.textContent('h2')).toContain('Welcome series');
    expect(await page.locator('svg[role=img]').count()).toBeGreaterThan(0);
    await follow(/\/dashboard\/sequences\/welcome$/, 'text=Welcome series');
    expect(await page.textContent('table')).toContain('hello');
    await browser.screenshot(page, 'dashboard-sequence');
    await follow(/\/steps\/hello$/, 'table >> text=hello');
    expect(await page.textContent('h1')).toContain('Welcome, Ada');

    await follow(/\/dashboard\/leads$/, 'nav >> text=Leads');
    await page.fill('#q', 'navy');
    await Promise.all([page.waitForURL(/q=navy/), page.press('#q', 'Enter')]);
    await follow(/\/dashboard\/leads\/[0-9a-f-]+$/, 'text=grace@navy.test');
    expect(await page.textContent('main')).toContain('Asked for a demo');
    expect(await page.textContent('main')).toContain('mql');
    await browser.screenshot(page, 'dashboard-lead');

    await follow(/\/dashboard\/handoffs$/, 'nav >> text=Handoffs');
    await follow(/\/dashboard\/handoffs\/[0-9a-f-]+$/, 'article >> a');
    expect(await page.textContent('main')).toContain('Grace Hopper');
    await Promise.all([page.waitForLoadState('load'), page.click('button:has-text("Accept")')]);
    await page.waitForSelector('text=accepted');
    const handoff = (
      await request(baton.url ?? '')
        .get('/api/handoffs')
        .set({ Authorization: `Bearer ${API_KEY}` })
    ).body.items[0];
    expect(handoff).toMatchObject({ status: 'accepted', decidedBy: 'dashboard' });
    await browser.screenshot(page, 'dashboard-handoff');

    await follow(/\/dashboard\/mail$/, 'nav >> text=Mail');
    await follow(/\/dashboard\/mail\/\d+$/, 'text=Hot lead: Grace Hopper');
    expect(await page.textContent('main')).toContain('alex@sales.test');
    expect(await page.frameLocator('iframe').locator('body').textContent()).toContain('Grace Hopper');
    await browser.screenshot(page, 'dashboard-mail');
    expect(errors).toEqual([]);
  }, 60_000);

  it('works at 375 px and by keyboard', async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 800 });
    // Where a newcomer starts: the root URL leads to the dashboard, which asks for the key.
    await page.goto(`${baton.url}/`);
    expect(page.url()).toMatch(/\/dashboard\/login\?next=%2Fdashboard$|\/dashboard\/login$/);
    // By keyboard alone: Tab past the skip link to the key field, type, Enter.
    for (let presses = 0; presses < 8 && (await page.evaluate('document.activeElement && document.activeElement.id')) !== 'key'; presses++)
      await page.keyboard.press('Tab');
    await page.keyboard.type(API_KEY);
    await Promise.all([page.waitForURL(/\/dashboard\/sequences$/), page.keyboard.press('Enter')]);
    await page.goto(`${baton.url}/dashboard/leads/${leadId}`);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement && document.activeElement.textContent')).toBe('Skip to content');
    await browser.screenshot(page, 'dashboard-lead-375');
    expect(errors).toEqual([]);
  }, 60_000);

  it('refuses a form posted from another site', async () => {
    const res = await request(baton.url ?? '')
      .post('/dashboard/logout')
      .set('Sec-Fetch-Site', 'cross-site');
    expect(res.status).toBe(403);
  });
});
