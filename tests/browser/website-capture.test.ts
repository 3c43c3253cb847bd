import http from 'node:http';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { createVisitorTokens } from '../../src/capture/visitor-token.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { caughtMail } from '../helpers/caught-mail.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';

/*
 * The snippet on a marketer's site, in Chromium: a static site served by this test on a loopback
 * port of its own (another origin than Baton's) includes /js/baton.js. An anonymous visitor reads
 * three pages, pricing among them, then asks for a demo; the lead's timeline holds the three page
 * views before the form, its score counts the pricing page, and the demo request reaches a rep as
 * the fixture scoring file's intent rule says. Baton runs with the workers, scoring and the
 * embedded SMTP sink, on PGlite or the DATABASE_URL server.
 *
 * The demo form is the site's own HTML posting to Baton's /forms/demo (a test form file allowing
 * the site's origin); the snippet adds the visitor id to it, so the submit joins the visitor.
 */

const API_KEY = 'capture-api-key-0123456789abcdef';
const SECRET = 'capture-secret-0123456789abcdef0123456789';
const SITE_KEY = 'site_browser_test_key';
const auth = { Authorization: `Bearer ${API_KEY}` };

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;
let site: http.Server;
let siteUrl: string;
let browser: TestBrowser;

const PAGES: Record<string, { title: string; body: string }> = {
  '/': { title: 'Globex Analytics', body: '<a id="next" href="/features">Features</a>' },
  '/features': { title: 'Features — Globex', body: '<a id="next" href="/pricing">Pricing</a>' },
  '/pricing': {
    title: 'Pricing — Globex',
    // The marketer's own HTML posting to Baton's demo form; the snippet adds the visitor id.
    body: `<form id="demo" method="post" action="BATON_URL/forms/demo"><label>Work email <input id="email" name="email" type="email" required></label>
      <label>First name <input id="first" name="first_name" required></label><input type="hidden" name="company" value="Globex">
      <button>Request a demo</button></form>`,
  },
};

function page(title: string, body: string, batonUrl: string): string {
  // The install snippet of docs/capture.md: the queue stub, then the async script.
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>${title}</title>
<script>window.baton=window.baton||function(){(baton.q=baton.q||[]).push(arguments)};</script>
<script async src="${batonUrl}/js/baton.js" data-site="${SITE_KEY}"></script></head><body><h1>${title}</h1>${body.replaceAll('BATON_URL', batonUrl)}</body></html>`;
}

beforeAll(async () => {
  if (!browserDescribe.available) return;
  let batonUrl = '';
  site = http.createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://site');
    const found = PAGES[pathname];
    if (!found) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(page(found.title, found.body, batonUrl));
  });
  await new Promise<void>((resolve) => site.listen(0, '127.0.0.1', resolve));
  siteUrl = `http://127.0.0.1:${(site.address() as AddressInfo).port}`;

  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-capture-'));
  await mkdir(path.join(dir, 'forms'));
  await writeFile(
    path.join(dir, 'forms', 'demo.yaml'),
    `id: demo\ntitle: Book a demo\nfields:\n  - { name: email, label: Work email, type: email, required: true }\n  - { name: first_name, label: First name, type: text, required: true }\n  - { name: company, label: Company, type: text }\nthank_you:\n  message: Thanks! We will be in touch.\nallowed_origins: [${siteUrl}]\n`,
  );
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_SEQUENCES_DIR: FIXTURE_CONTENT.sequences,
    BATON_SCORING_FILE: FIXTURE_CONTENT.scoring,
    BATON_SALES_TEAM_FILE: FIXTURE_CONTENT.salesTeam,
    BATON_FORMS_DIR: path.join(dir, 'forms'),
    BATON_API_KEY: API_KEY,
    BATON_SECRET: SECRET,
    BATON_SITE_KEY: SITE_KEY,
    BATON_SITE_ORIGINS: siteUrl,
    BATON_PUBLIC_URL: 'https://baton.test',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  batonUrl = baton.url ?? '';
  api = request(batonUrl);
  browser = await launchBrowser();
}, 300_000);

afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await new Promise((resolve) => site?.close(resolve));
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

interface TimelineEvent {
  type: string;
  properties: Record<string, unknown>;
  occurredAt: string;
}
const timeline = async (leadId: string): Promise<TimelineEvent[]> =>
  ((await api.get(`/api/leads/${leadId}/timeline`).set(auth)).body.items as TimelineEvent[]).reverse();
const leadIdOf = async (email: string): Promise<string | undefined> => (await api.get('/api/leads').query({ email }).set(auth)).body.items[0]?.id;

browserDescribe('the website snippet in Chromium', () => {
  it("joins an anonymous visitor's three page views to the lead at the demo request, scores them, and hands the lead to sales", async () => {
    const { page: tab, errors } = await browser.newPage();
    await tab.goto(`${siteUrl}/?utm_source=linkedin&utm_campaign=q4-launch`);
    await tab.waitForFunction('window.__batonLoaded === true');
    const visitor = await tab.evaluate('localStorage.getItem("baton_vid")');
    expect(visitor).toMatch(/^[0-9a-f]{32}$/);
    expect(await tab.evaluate('document.cookie')).toContain(`baton_vid=${String(visitor)}`);
    await Promise.all([tab.waitForURL(`${siteUrl}/features`), tab.click('#next')]);
    await tab.waitForFunction('window.__batonLoaded === true');
    await Promise.all([tab.waitForURL(`${siteUrl}/pricing`), tab.click('#next')]);
    await tab.waitForFunction('window.__batonLoaded === true');
    // Still anonymous: the three views wait under the visitor, on no lead.
    const waiting = await until(
      async () => Number((await baton.database.pool.query('select count(*) from visitor_events where visitor_id = $1', [visitor])).rows[0].count),
      (count) => count === 3,
    );
    expect(waiting).toBe(3);

    await tab.fill('#email', 'ada@globex.test');
    await tab.fill('#first', 'Ada');
    await Promise.all([tab.waitForURL(`${baton.url ?? ''}/forms/demo`), tab.click('button')]);
    await tab.getByText('Thanks! We will be in touch.').waitFor();
    await browser.screenshot(tab, 'website-capture-demo-request');

    const leadId = await until(
      () => leadIdOf('ada@globex.test'),
      (id) => id !== undefined,
    );
    expect(leadId).toBeDefined();
    const events = await until(
      () => timeline(leadId ?? ''),
      (items) => items.length >= 4,
    );
    expect(events.map((event) => [event.type, event.properties.path ?? event.properties.form])).toEqual([
      ['page_view', '/'],
      ['page_view', '/features'],
      ['page_view', '/pricing'],
      ['form_submit', 'demo'],
    ]);
    expect(events[0]?.properties).toMatchObject({ title: 'Globex Analytics', utm_source: 'linkedin', utm_campaign: 'q4-launch' });
    expect(events[1]?.properties.referrer).toBe(`${siteUrl}/?utm_source=linkedin&utm_campaign=q4-launch`);

    // The fixture scoring file: pricing page 15 and demo request 40; the intent rule hands off at once.
    const score = await until(
      async () => (await api.get(`/api/leads/${leadId}/score`).set(auth)).body,
      (body) => Array.isArray(body.breakdown) && body.breakdown.some((entry: { rule: string }) => entry.rule === 'demo-request'),
    );
    const points = Object.fromEntries((score.breakdown as Array<{ rule: string; points: number }>).map((entry) => [entry.rule, entry.points]));
    expect(points['pricing-page']).toBeCloseTo(15, 0);
    expect(points['demo-request']).toBeCloseTo(40, 0);
    const handoffs = await until(
      async () => (await api.get('/api/handoffs').query({ leadId }).set(auth)).body.items as Array<{ id: string }>,
      (items) => items.length > 0,
      20_000,
    );
    expect(handoffs).toHaveLength(1);
    const handoff = (await api.get(`/api/handoffs/${handoffs[0]?.id ?? ''}`).set(auth)).body;
    expect(handoff.briefing.handRaised).toMatchObject({ rule: 'demo-request', label: 'Demo request' });
    const repEmail = handoff.rep.email ?? `${handoff.rep.id}@example.com`;
    const [mail] = await caughtMail(api, auth).waitForMails(repEmail, 1, 20_000);
    expect(mail?.subject).toMatch(/^Demo request: Ada/);
    expect(errors).toEqual([]);
  });

  it('identifies a visitor who lands from an email click by its signed token, and takes the token out of the address bar', async () => {
    const leadId = (await api.post('/api/leads').set(auth).send({ email: 'bea@initech.test', firstName: 'Bea' })).body.id as string;
    const token = createVisitorTokens(SECRET).sign(leadId, new Date());
    const context = await browser.browser.newContext();
    const tab = await context.newPage();
    await tab.goto(`${siteUrl}/features?utm_source=baton&baton_vt=${token}#plans`);
    await tab.waitForFunction('window.__batonLoaded === true');
    expect(tab.url()).toBe(`${siteUrl}/features?utm_source=baton#plans`);
    const events = await until(
      () => timeline(leadId),
      (items) => items.length >= 1,
    );
    expect(events.map((event) => [event.type, event.properties.path, event.properties.utm_source])).toEqual([['page_view', '/features', 'baton']]);
    await context.close();
  });

  it('sends nothing from a browser with Global Privacy Control on', async () => {
    const context = await browser.browser.newContext({ extraHTTPHeaders: { 'Sec-GPC': '1' } });
    const tab = await context.newPage();
    await tab.addInitScript('Object.defineProperty(navigator, "globalPrivacyControl", { get: () => true })');
    const before = Number((await baton.database.pool.query('select count(*) from visitors')).rows[0].count);
    await tab.goto(`${siteUrl}/`);
    await tab.waitForFunction('typeof window.baton === "function" && !window.baton.q');
    expect(await tab.evaluate('localStorage.getItem("baton_vid")')).toBeNull();
    expect(await tab.evaluate('document.cookie')).toBe('');
    expect(Number((await baton.database.pool.query('select count(*) from visitors')).rows[0].count)).toBe(before);
    await context.close();
  });
});
