import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { unsubscribeUrl } from '../../src/subscriptions/unsubscribe-token.js';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { startFormsApp, type FormsApp } from '../helpers/forms-app.js';

/*
 * The signed link in every email opens a preference page: leave one topic, pause all email for
 * 30 or 90 days, or unsubscribe from everything. In Chromium at 375 px; RFC 8058's one-click
 * POST still unsubscribes from everything.
 */

let f: FormsApp;
let server: http.Server;
let baseUrl: string;
let browser: TestBrowser;

beforeAll(async () => {
  if (!browserDescribe.available) return;
  f = await startFormsApp({ topics: ['product-news', 'events'] });
  server = http.createServer(f.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});
afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await new Promise((resolve) => server.close(resolve));
  await f.close();
});

const newLead = async (email: string) => (await f.t.api.post('/api/leads').set(f.t.auth).send({ email })).body.id as string;
const preferences = async (leadId: string) =>
  (await f.t.database.pool.query('select paused_until, left_topics from lead_preferences where lead_id = $1', [leadId])).rows;
const lead = async (leadId: string) => (await f.t.api.get(`/api/leads/${leadId}`).set(f.t.auth)).body;

browserDescribe('the preference page at 375 px', () => {
  it('leaves one topic, then pauses all email for 30 days, without unsubscribing, with no console errors', async () => {
    const leadId = await newLead('prefs@example.com');
    const url = unsubscribeUrl(baseUrl, f.t.services.unsubscribeSigner, { leadId, sendId: null });
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(url);
    await browser.screenshot(page, 'preference-page-375');
    expect(await page.textContent('h1')).toBe('Email from Acme Test');
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(375);

    await Promise.all([page.waitForURL(url), page.getByRole('button', { name: 'Stop emails about product news' }).click()]);
    await page.waitForSelector('text=You will not receive email about product news any more.');
    expect(await preferences(leadId)).toEqual([{ paused_until: null, left_topics: ['product-news'] }]);

    await page.goto(url);
    expect(await page.getByRole('button', { name: 'Stop emails about product news' }).count()).toBe(0);
    expect(await page.textContent('body')).toContain('You left: product news.');
    await Promise.all([page.waitForURL(url), page.getByRole('button', { name: 'Pause all email for 30 days' }).click()]);
    await page.waitForSelector('text=is paused for 30 days');
    await browser.screenshot(page, 'preference-page-paused-375');
    const [row] = await preferences(leadId);
    const days = (new Date(row.paused_until).getTime() - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);
    expect((await lead(leadId)).unsubscribedAt).toBeNull();
    const changes = await f.t.api.get(`/api/leads/${leadId}/timeline`).query({ type: 'preferences_changed' }).set(f.t.auth);
    expect(changes.body.items.map((item: { properties: Record<string, unknown> }) => item.properties.kind)).toEqual(['pause', 'leave_topic']);
    expect(errors).toEqual([]);
  });

  it("unsubscribes from everything with the page's button, and with RFC 8058 one-click", async () => {
    const pageLead = await newLead('everything@example.com');
    const url = unsubscribeUrl(baseUrl, f.t.services.unsubscribeSigner, { leadId: pageLead, sendId: null });
    const { page } = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(url);
    await Promise.all([page.waitForURL(url), page.getByRole('button', { name: 'Unsubscribe', exact: true }).click()]);
    await page.waitForSelector('text=You are unsubscribed');
    expect((await lead(pageLead)).unsubscribedAt).not.toBeNull();

    const oneClickLead = await newLead('oneclick@example.com');
    const path = new URL(unsubscribeUrl(baseUrl, f.t.services.unsubscribeSigner, { leadId: oneClickLead, sendId: null })).pathname;
    expect((await f.api.post(path).type('form').send('List-Unsubscribe=One-Click')).status).toBe(200);
    expect((await lead(oneClickLead)).unsubscribedAt).not.toBeNull();
  });

  it('refuses a choice the page does not offer rather than unsubscribing by surprise', async () => {
    const leadId = await newLead('tamper@example.com');
    const path = new URL(unsubscribeUrl(baseUrl, f.t.services.unsubscribeSigner, { leadId, sendId: null })).pathname;
    expect((await f.api.post(path).type('form').send('action=pause&days=3650')).status).toBe(400);
    expect((await f.api.post(path).type('form').send('action=leave_topic&topic=unknown')).status).toBe(400);
    expect((await lead(leadId)).unsubscribedAt).toBeNull();
    expect(await preferences(leadId)).toEqual([]);
  });
});
