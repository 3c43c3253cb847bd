import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/logger.js';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { expectedFunnel, expectedReps } from '../helpers/funnel-expected.js';
import { loadHistory, planHistory } from '../helpers/funnel-history.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';

/*
 * The Pipeline page in headless Chromium over a running Baton whose database holds the seeded
 * history of tests/helpers/funnel-history.ts: its tables agree with the figures worked out in
 * plain JS, it reads at 375 px, a bad period is a 400 naming the parameter, and a deal value
 * entered in the handoff page's convert form shows up on it.
 */

const API_KEY = 'pipeline-api-key-0123456789abcdef';
const PERIOD = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-07-01T00:00:00Z') };
const plan = planHistory(17, 600, PERIOD);
let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let browser: TestBrowser;

beforeAll(async () => {
  if (!browserDescribe.available) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-pipeline-'));
  await mkdir(path.join(dir, 'sequences'));
  await writeFile(
    path.join(dir, 'scoring.yaml'),
    'behaviour:\n  - { id: demo, label: Asked for a demo, event: form_submit, where: { form: demo }, points: 60 }\nlifecycle:\n  mql: { engagement: 50 }\n',
  );
  await writeFile(path.join(dir, 'sales-team.yaml'), 'fallback_owner: alex\nreps:\n  - { id: alex, name: Alex Kim, email: alex@sales.test }\n');
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const seeding = await openDatabase({ url: database?.url ?? null, embeddedDir: dir, poolSize: 2 });
  try {
    await migrate(seeding.pool);
    await loadHistory(seeding.pool, plan);
  } finally {
    await seeding.close();
  }
  baton = await startBaton(
    loadConfig({
      PORT: '0',
      BATON_DATA_DIR: dir,
      BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
      BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
      BATON_API_KEY: API_KEY,
      BATON_SECRET: 'pipeline-secret-0123456789abcdef0123456789',
      ...(database?.url ? { DATABASE_URL: database.url } : {}),
    }),
    createLogger('silent'),
  );
  browser = await launchBrowser();
}, 240_000);

afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** The rows of a table on the page: header cell then data cells, as text. */
async function tableRows(page: import('playwright-core').Page, selector: string): Promise<string[][]> {
  return page.$$eval(`${selector} tbody tr`, (rows) => rows.map((row) => [...row.querySelectorAll('th, td')].map((cell) => (cell.textContent ?? '').trim())));
}

browserDescribe('the Pipeline page in a browser', () => {
  it('shows the funnel, sources, sequences, reps and months as the plan has them, readable at 375 px', async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${baton.url}/dashboard/login`);
    await page.fill('#key', API_KEY);
    await Promise.all([page.waitForURL(/\/dashboard\/sequences$/), page.click('button:has-text("Sign in")')]);
    await Promise.all([page.waitForURL(/\/dashboard\/pipeline$/), page.click('nav >> text=Pipeline')]);
    await page.fill('#from', '2026-01-01');
    await page.fill('#to', '2026-06-30');
    await Promise.all([page.waitForURL(/from=2026-01-01&to=2026-06-30/), page.click('button:has-text("Show")')]);
    expect(await page.getAttribute('svg[role=img]', 'aria-label')).toContain('Lifecycle funnel');

    const bySource = expectedFunnel(plan, PERIOD, 'source');
    const sources = await tableRows(page, '#by-source');
    expect(sources.map((row) => row[0])).toEqual([...bySource.groups.keys()].sort((a, b) => a.localeCompare(b)));
    for (const row of sources) {
      const group = bySource.groups.get(row[0] ?? '');
      expect(row.slice(1, 5).map(Number)).toEqual([group?.stages.subscriber, group?.stages.mql, group?.stages.sql, group?.stages.customer]);
    }
    expect(await page.textContent('#by-source tfoot')).toContain(String(bySource.total.stages.subscriber));

    const bySequence = expectedFunnel(plan, PERIOD, 'sequence');
    for (const row of await tableRows(page, '#by-sequence')) {
      const group = bySequence.groups.get(row[0] ?? '');
      expect(row.slice(1, 5).map(Number)).toEqual([group?.stages.subscriber, group?.stages.mql, group?.stages.sql, group?.stages.customer]);
    }
    const reps = expectedReps(plan, PERIOD);
    const repRows = await tableRows(page, '#by-rep');
    expect(repRows.map((row) => row[0])).toEqual([...reps.keys()].sort());
    for (const row of repRows) expect([Number(row[1]), Number(row[5])]).toEqual([reps.get(row[0] ?? '')?.handoffs, reps.get(row[0] ?? '')?.breaches]);
    const byMonth = expectedFunnel(plan, PERIOD, 'month');
    expect((await tableRows(page, '#by-month')).map((row) => [row[0], Number(row[1]), Number(row[4])])).toEqual(
      [...byMonth.groups.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([key, group]) => [key, group.stages.subscriber, group.stages.customer]),
    );

    // The page never scrolls sideways at phone width: wide tables scroll inside their box.
    expect(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth')).toBeLessThanOrEqual(0);
    await browser.screenshot(page, 'pipeline-375');
    expect(errors).toEqual([]);
  }, 120_000);

  it('answers a bad period with 400 naming the parameter', async () => {
    const { page } = await browser.newPage();
    await page.goto(`${baton.url}/dashboard/login`);
    await page.fill('#key', API_KEY);
    await Promise.all([page.waitForURL(/\/dashboard\/sequences$/), page.click('button:has-text("Sign in")')]);
    const response = await page.goto(`${baton.url}/dashboard/pipeline?from=2026-02-30`);
    expect(response?.status()).toBe(400);
    expect(await page.textContent('main')).toContain('from');
    const api = await request(baton.url ?? '')
      .get('/api/reports/funnel?by=week')
      .set({ Authorization: `Bearer ${API_KEY}` });
    expect(api.status).toBe(400);
    expect(api.body.error.details[0].field).toBe('by');
  }, 60_000);

  it("shows a deal value entered in the handoff page's convert form", async () => {
    const api = request(baton.url ?? '');
    const auth = { Authorization: `Bearer ${API_KEY}` };
    const lead = (await api.post('/api/leads').set(auth).send({ email: 'buyer@acme.test', firstName: 'Zoë', source: 'Salon Lyon — été' })).body as {
      id: string;
    };
    await api
      .post('/api/events')
      .set(auth)
      .send({ leadId: lead.id, type: 'form_submit', properties: { form: 'demo' } });
    const handoff = await until(
      async () => (await api.get('/api/handoffs').query({ leadId: lead.id }).set(auth)).body.items[0] as { id: string } | undefined,
      (found) => found !== undefined,
    );
    const { page, errors } = await browser.newPage();
    await page.goto(`${baton.url}/dashboard/login`);
    await page.fill('#key', API_KEY);
    await Promise.all([page.waitForURL(/\/dashboard\/sequences$/), page.click('button:has-text("Sign in")')]);
    await page.goto(`${baton.url}/dashboard/handoffs/${handoff?.id ?? ''}`);
    await page.fill('#deal-value', '4200');
    await page.fill('#deal-currency', 'EUR');
    await Promise.all([page.waitForURL(/done=convert/), page.click('button:has-text("Converted")')]);
    expect(await page.textContent('main')).toContain('deal 4200 EUR');
    const today = new Date().toISOString().slice(0, 10);
    await page.goto(`${baton.url}/dashboard/pipeline?from=${today}&to=${today}`);
    const row = (await tableRows(page, '#by-source')).find((cells) => cells[0] === 'Salon Lyon — été');
    // Today's leads: this one only.
    expect(row).toEqual(['Salon Lyon — été', '1', '1', '1', '1', expect.stringContaining('100.0%'), '€4,200']);
    expect(errors).toEqual([]);
  }, 60_000);
});
