import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { unsubscribeUrl } from '../../src/subscriptions/unsubscribe-token.js';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let server: http.Server;
let baseUrl: string;
let browser: TestBrowser;

beforeAll(async () => {
  if (!browserDescribe.available) return;
  t = await createTestApp();
  server = http.createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  browser = await launchBrowser();
});
afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

browserDescribe('the unsubscribe page in a browser', () => {
  it('asks first, unsubscribes on the button, works at 375 px and by keyboard, with no console errors', async () => {
    const leadId = (await t.api.post('/api/leads').set(t.auth).send({ email: 'browser@example.com' })).body.id;
    const url = unsubscribeUrl(baseUrl, t.services.unsubscribeSigner, { leadId, sendId: null });
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 700 });

    await page.goto(url);
    await browser.screenshot(page, 'unsubscribe-confirm-375');
    expect(await page.textContent('h1')).toBe('Email from Acme Test');
    expect((await t.api.get(`/api/leads/${leadId}`).set(t.auth)).body.unsubscribedAt).toBeNull();
    const scrollWidth = await page.evaluate('document.documentElement.scrollWidth');
    expect(scrollWidth).toBeLessThanOrEqual(375);

    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Unsubscribe');
    await Promise.all([page.waitForLoadState('load'), page.waitForURL(url), page.keyboard.press('Enter')]);
    await page.waitForSelector('text=You are unsubscribed');
    await browser.screenshot(page, 'unsubscribe-done-375');

    expect((await t.api.get(`/api/leads/${leadId}`).set(t.auth)).body.unsubscribedAt).not.toBeNull();
    const timeline = await t.api.get(`/api/leads/${leadId}/timeline`).set(t.auth);
    expect(timeline.body.items[0].properties.source).toBe('page');
    expect(errors).toEqual([]);
  });
});
