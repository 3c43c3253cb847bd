import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/*
 * The experiment page in headless Chromium against a running Baton (real Postgres, the API and
 * the dashboard as served): both arms of a split side by side with their intervals, the holdout
 * group, a recorded winner; at 375 px without sideways scrolling, and no console errors.
 * The assignment rows are inserted directly (300 leads walking the sequence would take minutes),
 * for the split and holdout the sequence file declares.
 */

const API_KEY = 'experiments-api-key-0123456789abcdef';
let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let browser: TestBrowser;

const query = (text: string, values: unknown[] = []) => baton.database.pool.query(text, values);
async function leads(prefix: string, count: number): Promise<string[]> {
  const { rows } = await query(`insert into leads (email) select $1 || '-' || g || '@exp.test' from generate_series(1, $2::int) g returning id`, [
    prefix,
    count,
  ]);
  return rows.map((row: { id: string }) => row.id);
}
const assign = (ids: string[], stepId: string, armId: string) =>
  query(
    `insert into experiment_assignments (lead_id, sequence_id, step_id, arm_id, assigned_at) select unnest($1::uuid[]), 'subject-lines', $2, $3, now() - interval '1 day'`,
    [ids, stepId, armId],
  );
const clicks = (ids: string[], machine: boolean) =>
  query(`insert into events (lead_id, type, properties, occurred_at) select unnest($1::uuid[]), 'email_clicked', $2::jsonb, now() - interval '1 hour'`, [
    ids,
    JSON.stringify({ sendId: 'x', machine }),
  ]);

beforeAll(async () => {
  if (!browserDescribe.available) return;
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-experiments-'));
  await mkdir(path.join(dir, 'sequences'));
  await writeFile(
    path.join(dir, 'sequences', 'subject-lines.yaml'),
    'id: subject-lines\nname: Subject line test\nversion: 1\nholdout: 10%\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: subject-test\n    split:\n      arms:\n        - { id: short, weight: 50, next: hello }\n        - { id: long, weight: 50, next: later }\n  - id: hello\n    email: welcome\n  - id: later\n    wait: 30d\n',
  );
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  baton = await startBaton(
    loadConfig({
      PORT: '0',
      BATON_DATA_DIR: dir,
      BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
      BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
      BATON_API_KEY: API_KEY,
      BATON_SECRET: 'experiments-secret-0123456789abcdef0123456789',
      ...(database?.url ? { DATABASE_URL: database.url } : {}),
    }),
    createLogger('silent'),
  );
  const short = await leads('short', 150);
  const long = await leads('long', 150);
  const held = await leads('held', 30);
  await assign(short, 'subject-test', 'short');
  await assign(long, 'subject-test', 'long');
  await assign([...short, ...long], '$holdout', 'treatment');
  await assign(held, '$holdout', 'holdout');
  await clicks(short.slice(0, 15), false);
  await clicks(short.slice(15, 100), true);
  await clicks(long.slice(0, 45), false);
  browser = await launchBrowser();
}, 120_000);

afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
  // Let Agenda's leftover liveness timer (max(processEvery, lockLifetime) / 2) fire, so Jest exits cleanly.
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

browserDescribe('the experiment page in a browser', () => {
  it('shows both arms of a split side by side with their intervals, and the holdout group', async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${baton.url}/dashboard/sequences/subject-lines`);
    await page.fill('#key', API_KEY);
    await Promise.all([page.waitForURL(/\/dashboard\/sequences\/subject-lines$/), page.click('button:has-text("Sign in")')]);
    await Promise.all([page.waitForURL(/\/experiments$/), page.click('text=Experiments')]);
    await Promise.all([page.waitForURL(/metric=click$/), page.click('nav.filters >> text=Clicked (people)')]);

    const split = page.locator('section.experiment', { hasText: 'subject-test' });
    expect(await split.locator('svg[role=img] line.interval').count()).toBe(2);
    const chart = (await split.locator('svg[role=img]').textContent()) ?? '';
    // 15/150 and 45/150 with their Wilson intervals; machine clicks do not count.
    expect(chart).toContain('short: 10.0% (95%: 6.2%–15.8%)');
    expect(chart).toContain('long: 30.0% (95%: 23.2%–37.8%)');
    expect(await split.textContent()).toContain('long leads: best with probability');
    expect(await split.textContent()).not.toContain('no longer in the sequence');
    const holdout = page.locator('section.experiment', { hasText: 'Holdout group' });
    expect(await holdout.locator('svg[role=img] line.interval').count()).toBe(2);
    expect(await holdout.textContent()).toContain('300 treatment, 30 holdout');
    await browser.screenshot(page, 'experiments');
    expect(errors).toEqual([]);
  }, 60_000);

  it('shows a recorded winner, and is usable at 375 px without sideways scrolling', async () => {
    await query(
      `insert into experiment_winners (sequence_id, step_id, arm_id, metric, probability, figures) values ('subject-lines', 'subject-test', 'long', 'click', 0.9999, '{}')`,
    );
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${baton.url}/dashboard/sequences/subject-lines/experiments`);
    await page.fill('#key', API_KEY);
    await Promise.all([page.waitForURL(/\/experiments$/), page.click('button:has-text("Sign in")')]);
    expect(await page.textContent('.confirmation')).toContain('Winner: long');
    // The chart follows the winner rule's metric only when the split has one; here we ask for clicks.
    await page.goto(`${baton.url}/dashboard/sequences/subject-lines/experiments?metric=click`);
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    const box = await page.locator('section.experiment svg[role=img]').first().boundingBox();
    expect(box?.width).toBeGreaterThan(250);
    expect((box?.x ?? 0) + (box?.width ?? 999)).toBeLessThanOrEqual(375);
    await browser.screenshot(page, 'experiments-375');
    // Bad ids and metrics get a page that says so, never a server error.
    for (const [suffix, status] of [
      ['nope/experiments', 404],
      ['%00/experiments', 404],
      ['subject-lines/experiments?metric=clicks', 400],
      ['subject-lines/experiments?metric=%E0%A4%A', 400],
    ] as const) {
      const res = await page.goto(`${baton.url}/dashboard/sequences/${suffix}`);
      expect([res?.status(), suffix]).toEqual([status, suffix]);
      expect(await page.textContent('main')).toMatch(/No such (sequence|metric)|not valid/);
    }
    errors.length = 0; // those pages answered 4xx, which Chromium logs as failed loads
    expect(errors).toEqual([]);
  }, 60_000);

  it('answers the API with the same figures, and 404 for an unknown sequence', async () => {
    const api = request(baton.url ?? '');
    const auth = { Authorization: `Bearer ${API_KEY}` };
    const res = await api.get('/api/sequences/subject-lines/experiments').set(auth).expect(200);
    const clickArms = res.body.splits[0].metrics.find((entry: { metric: string }) => entry.metric === 'click').arms;
    expect(clickArms.map((arm: { armId: string; successes: number; entered: number }) => [arm.armId, arm.successes, arm.entered])).toEqual([
      // In the order the sequence file declares the arms.
      ['short', 15, 150],
      ['long', 45, 150],
    ]);
    await api.get('/api/sequences/nope/experiments').set(auth).expect(404);
  });
});
