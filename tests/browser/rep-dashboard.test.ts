import type { Page } from 'playwright-core';
import { browserDescribe, launchBrowser, type TestBrowser } from '../helpers/browser.js';
import { linkIn, startRepDashboard, type RepDashboard } from '../helpers/rep-dashboard.js';
import { until } from '../helpers/until.js';

/*
 * A rep's day in the dashboard, in headless Chromium against a running Baton: sign in with the
 * link from the caught mail, the own inbox only, accept then convert, 403 on another rep's
 * handoff, the briefing's lead link through sign-in to the lead page, times in the rep's zone and
 * in words, and the pages at 375 px.
 */

let t: RepDashboard;
let browser: TestBrowser;

beforeAll(async () => {
  if (!browserDescribe.available) return;
  t = await startRepDashboard();
  browser = await launchBrowser();
}, 90_000);

afterAll(async () => {
  if (!browserDescribe.available) return;
  await browser?.close();
  await t?.close();
});

const ISO_TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
/** Links in mail carry the configured public URL (port 0 in tests): the same path on the running server. */
const onServer = (link: string) => `${t.url}${new URL(link).pathname}`;

/** On the sign-in page: asks for a link, follows the newest one from the caught mail, presses Sign in. */
async function signInByEmail(page: Page, email: string, landsOn: RegExp): Promise<void> {
  const before = (await t.mailsTo(email)).filter((mail) => /sign-in link/i.test(mail.subject ?? '')).length;
  await page.fill('#email', email);
  await Promise.all([page.waitForURL(/\/dashboard\/login\/link$/), page.click('button:has-text("Email me a sign-in link")')]);
  expect(await page.textContent('[role=status]')).toContain('a sign-in link is on its way');
  const mails = await until(
    async () => (await t.mailsTo(email)).filter((mail) => /sign-in link/i.test(mail.subject ?? '')),
    (found) => found.length > before,
    40_000,
  );
  await page.goto(onServer(linkIn(mails.at(-1)?.text ?? '', '/dashboard/sign-in/')));
  await Promise.all([page.waitForURL(landsOn), page.click('main button:has-text("Sign in")')]);
}

const mainText = async (page: Page) => (await page.innerText('main')) ?? '';

browserDescribe('a rep in the dashboard', () => {
  it("signs in with the emailed link, sees only their inbox, accepts then converts, and is refused another rep's handoff", async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 1200, height: 900 });
    await page.goto(`${t.url}/dashboard`);
    expect(page.url()).toContain('/dashboard/login');
    await signInByEmail(page, 'alex@sales.test', /\/dashboard\/handoffs$/);

    const inbox = await mainText(page);
    expect(inbox).toContain('Grace Hopper');
    expect(inbox).not.toContain('Marie Curie');
    expect(await page.textContent('header')).toContain('Alex Kim');
    // Alex's zone (America/Los_Angeles) and words, never an ISO string.
    expect(inbox).toMatch(/GMT-8 \((just now|\d+ minutes? ago)\)/);
    expect(inbox).not.toMatch(ISO_TIME);

    await Promise.all([page.waitForURL(/\/dashboard\/handoffs\/[0-9a-f-]+$/), page.click('article >> a')]);
    expect(await page.getAttribute('a[href^="mailto:"]', 'href')).toBe('mailto:grace@navy.test');
    expect(await page.getAttribute('a[href^="tel:"]', 'href')).toBe('tel:+15550100199');
    const contact = await page.innerText('main');
    expect(contact).toMatch(/Their time\s+\w{3} \d{2}:\d{2} \(America\/New_York\)/);
    expect(contact).toContain('250 employees');
    expect(await page.getAttribute('a:has-text("Open the lead")', 'href')).toBe(`/dashboard/leads/${t.grace.leadId}`);
    expect(contact).not.toMatch(ISO_TIME);

    await Promise.all([page.waitForURL(/\?done=accept$/), page.click('button:has-text("Accept")')]);
    expect(await page.textContent('.confirmation')).toContain('Accepted');
    // After Accept, Converted and Reject stay on offer; Accept does not.
    expect(await page.locator('button:has-text("Converted")').count()).toBe(1);
    expect(await page.locator('button:has-text("Reject")').count()).toBe(1);
    expect(await page.locator('button:has-text("Accept")').count()).toBe(0);
    await browser.screenshot(page, 'rep-handoff-accepted');
    await Promise.all([page.waitForURL(/\?done=convert$/), page.click('button:has-text("Converted")')]);
    expect(await page.textContent('.confirmation')).toContain('converted');
    expect(await page.locator('section.actions').count()).toBe(0);
    expect((await t.api.get(`/api/handoffs/${t.grace.handoffId}`).set(t.auth)).body).toMatchObject({ status: 'converted', decidedBy: 'rep:alex' });

    const refused = await page.goto(`${t.url}/dashboard/handoffs/${t.marie.handoffId}`);
    expect(refused?.status()).toBe(403);
    expect(await mainText(page)).toContain('belongs to another rep');
    // That refusal is a 403, which Chromium logs as a failed load: expected, and the only one.
    expect(errors).toEqual([expect.stringContaining('status of 403')]);
  }, 90_000);

  it("opens the lead page from the briefing's lead link, signing in first", async () => {
    const [briefing] = await t.waitForMails('lea@sales.test', 1, 40_000);
    const html = briefing?.html || '';
    const leadLink = /href="([^"]+)"[^>]*>Open the lead in Baton/.exec(html)?.[1] ?? '';
    expect(new URL(leadLink).pathname).toBe(`/dashboard/leads/${t.marie.leadId}`);
    expect(briefing?.text).not.toContain('/api/leads');

    const { page, errors } = await browser.newPage();
    await page.goto(onServer(leadLink));
    expect(page.url()).toContain(`/dashboard/login?next=${encodeURIComponent(`/dashboard/leads/${t.marie.leadId}`)}`);
    await signInByEmail(page, 'lea@sales.test', new RegExp(`/dashboard/leads/${t.marie.leadId}$`));
    expect(await page.textContent('h1')).toBe('marie@sorbonne.test');
    // Léa reads times in Paris time.
    expect(await mainText(page)).toMatch(/CET \(/);
    expect(errors).toEqual([]);
  }, 90_000);

  it('fits 375 px: no page overflow, tables scroll in their box, funnel labels readable, times in words', async () => {
    const { page, errors } = await browser.newPage();
    await page.setViewportSize({ width: 375, height: 800 });
    await page.goto(`${t.url}/dashboard/login`);
    await page.fill('#key', t.auth.Authorization.replace('Bearer ', ''));
    await Promise.all([page.waitForURL(/\/dashboard\/sequences$/), page.click('button:has-text("Sign in")')]);
    for (const path of [
      '/dashboard/sequences',
      '/dashboard/sequences/welcome',
      '/dashboard/leads',
      `/dashboard/leads/${t.grace.leadId}`,
      '/dashboard/handoffs',
      `/dashboard/handoffs/${t.marie.handoffId}`,
      '/dashboard/mail',
    ]) {
      await page.goto(`${t.url}${path}`);
      const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
      expect([path, overflow]).toEqual([path, 0]);
      expect([path, await mainText(page)]).not.toEqual([path, expect.stringMatching(ISO_TIME)]);
    }
    await page.goto(`${t.url}/dashboard/sequences/welcome`);
    // The per-step table is wider than the phone: it scrolls inside its box.
    const box = (await page.evaluate(
      '(() => { const box = document.querySelector(".scroll"); return { scroll: box.scrollWidth, client: box.clientWidth }; })()',
    )) as { scroll: number; client: number };
    expect(box.scroll).toBeGreaterThan(box.client);
    // Funnel labels: rendered at 11 px or more.
    const labelHeights = (await page.evaluate(
      '[...document.querySelectorAll("svg.chart text")].map((text) => text.getBoundingClientRect().height)',
    )) as number[];
    expect(labelHeights.length).toBeGreaterThan(0);
    expect(Math.min(...labelHeights)).toBeGreaterThanOrEqual(11);
    await browser.screenshot(page, 'rep-sequence-375');
    expect(errors).toEqual([]);
  }, 90_000);
});
