import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let leadId: string;
const UNSUBSCRIBE = 'https://baton.test/u/keep-me';
const HTML = `<html><body><a href="https://example.com/guide?a=1&amp;b=2">Guide</a> <a href='https://example.com/pricing'>Pricing</a>
<a href="mailto:sales@example.com">Mail us</a> <a href="${UNSUBSCRIBE}">Unsubscribe</a></body></html>`;
const TEXT = `Guide [https://example.com/guide?a=1&b=2]\nPricing [https://example.com/pricing]\nUnsubscribe [${UNSUBSCRIBE}]`;

beforeAll(async () => {
  t = await createTestApp();
  leadId = (await t.api.post('/api/leads').set(t.auth).send({ email: 'reader@example.com' })).body.id;
});
afterAll(async () => {
  await t.close();
});

async function prepare(sendId: string) {
  const [prepared] = await t.services.tracking.prepareEmails([{ sendId, leadId, html: HTML, text: TEXT, keepUrls: [UNSUBSCRIBE] }]);
  if (!prepared) throw new Error('prepareEmails returned nothing');
  return prepared;
}
const clickPath = (html: string, index: number) =>
  new URL([...html.matchAll(/href=["'](https:\/\/baton\.test\/c\/[^"']+)["']/g)][index]?.[1] ?? 'https://x/none').pathname;
const timeline = async (type: string) => (await t.api.get(`/api/leads/${leadId}/timeline`).query({ type }).set(t.auth)).body.items;

describe('preparing an email for tracking', () => {
  it('rewrites http(s) links in HTML and text, keeps the unsubscribe and mailto links, and adds the pixel', async () => {
    const { html, text } = await prepare('send-a');
    expect(html).not.toContain('https://example.com/');
    expect(html.match(/https:\/\/baton\.test\/c\//g)).toHaveLength(2);
    expect(html).toContain(`href="${UNSUBSCRIBE}"`);
    expect(html).toContain('href="mailto:sales@example.com"');
    expect(html).toMatch(/<img src="https:\/\/baton\.test\/o\/[^"]+\.gif" width="1" height="1"[^>]*\/><\/body>/);
    expect(text).not.toContain('https://example.com/');
    expect(text).toContain(UNSUBSCRIBE);
    const stored = await t.database.db.selectFrom('tracked_links').select('url').where('send_id', '=', 'send-a').orderBy('id').execute();
    expect(stored.map((row) => row.url)).toEqual(['https://example.com/guide?a=1&b=2', 'https://example.com/pricing']);
  });
});

describe('click tracking', () => {
  it('redirects to the stored URL and records one human click', async () => {
    const { html } = await prepare('send-b');
    await t.database.pool.query(`update tracked_links set created_at = now() - interval '1 hour' where send_id = 'send-b'`);
    const res = await t.api.get(clickPath(html, 0)).set('User-Agent', 'Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15');
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('https://example.com/guide?a=1&b=2');
    await t.services.tracking.close();
    const clicks = (await timeline('email_clicked')).filter((event: { properties: { sendId: string } }) => event.properties.sendId === 'send-b');
    expect(clicks).toHaveLength(1);
    expect(clicks[0].properties).toMatchObject({ url: 'https://example.com/guide?a=1&b=2', machine: false, ipHash: expect.stringMatching(/^[0-9a-f]{16}$/) });
  });

  it('records scanner traffic (HEAD, seconds after sending) as machine clicks, and still redirects', async () => {
    const { html } = await prepare('send-c');
    const head = await t.api.head(clickPath(html, 1)).set('User-Agent', 'Mozilla/5.0 Chrome/126');
    expect(head.status).toBe(302);
    const fast = await t.api.get(clickPath(html, 1)).set('User-Agent', 'Mozilla/5.0 Chrome/126');
    expect(fast.status).toBe(302);
    await t.services.tracking.close();
    const clicks = (await timeline('email_clicked')).filter((event: { properties: { sendId: string } }) => event.properties.sendId === 'send-c');
    expect(clicks.map((event: { properties: { machine: boolean } }) => event.properties.machine)).toEqual([true, true]);
  });

  it('answers a tampered, unknown or foreign token with a 404 page and no redirect', async () => {
    const { html } = await prepare('send-d');
    const good = clickPath(html, 0);
    const [, token] = good.split('/c/');
    const [payload, signature] = (token ?? '').split('.');
    const forged = `/c/${Buffer.from('1').toString('base64url')}.${signature}`;
    const unsubscribeToken = `/c/${UNSUBSCRIBE.split('/u/')[1]}`;
    for (const bad of [forged, `/c/${payload}.AAAA`, '/c/nothing', unsubscribeToken, '/c/%00']) {
      const res = await t.api.get(bad);
      expect(res.status).toBe(404);
      expect(res.headers.location).toBeUndefined();
      expect(res.text).toContain('Link not found');
    }
  });
});

describe('open tracking', () => {
  it('always serves the GIF, and records opens, Apple privacy prefetches as machine', async () => {
    const { html } = await prepare('send-e');
    const pixel = new URL(/src="(https:\/\/baton\.test\/o\/[^"]+)"/.exec(html)?.[1] ?? '').pathname;
    const human = await t.api.get(pixel).set('User-Agent', 'Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15');
    expect(human.status).toBe(200);
    expect(human.headers['content-type']).toBe('image/gif');
    expect(human.body.subarray(0, 6).toString()).toBe('GIF89a');
    await t.api.get(pixel).set('User-Agent', 'Mozilla/5.0');
    const garbage = await t.api.get('/o/garbage.gif');
    expect(garbage.status).toBe(200);
    expect(garbage.headers['content-type']).toBe('image/gif');
    await t.services.tracking.close();
    const opens = (await timeline('email_opened')).filter((event: { properties: { sendId: string } }) => event.properties.sendId === 'send-e');
    expect(opens.map((event: { properties: { machine: boolean } }) => event.properties.machine).sort()).toEqual([false, true]);
  });

  it('records one open per send per minute however often the pixel is fetched, and every click (issue 16)', async () => {
    const { html } = await prepare('send-h');
    const pixel = new URL(/src="(https:\/\/baton\.test\/o\/[^"]+)"/.exec(html)?.[1] ?? '').pathname;
    // One token in a loop: 200 fetches as a person's mail client, 100 as Apple's prefetcher.
    const fetches = [...Array.from({ length: 200 }, () => 'Thunderbird/115.0'), ...Array.from({ length: 100 }, () => 'Mozilla/5.0')];
    for (let i = 0; i < fetches.length; i += 50) {
      const answers = await Promise.all(fetches.slice(i, i + 50).map((agent) => t.api.get(pixel).set('User-Agent', agent)));
      expect(answers.every((res) => res.status === 200 && res.headers['content-type'] === 'image/gif')).toBe(true);
    }
    await t.database.pool.query(`update tracked_links set created_at = now() - interval '1 hour' where send_id = 'send-h'`);
    for (let i = 0; i < 5; i += 1) expect((await t.api.get(clickPath(html, 0)).set('User-Agent', 'Thunderbird/115.0')).status).toBe(302);
    await t.services.tracking.close();
    const ofSend = (events: Array<{ properties: { sendId: string; machine: boolean } }>) => events.filter((event) => event.properties.sendId === 'send-h');
    expect(
      ofSend(await timeline('email_opened'))
        .map((event) => event.properties.machine)
        .sort(),
    ).toEqual([false, true]);
    expect(ofSend(await timeline('email_clicked'))).toHaveLength(5);
  });

  it('drops the buffered events of a lead erased meanwhile without losing the others', async () => {
    const other = (await t.api.post('/api/leads').set(t.auth).send({ email: 'short-lived@example.com' })).body.id;
    const [gone = { html: '', text: '' }] = await t.services.tracking.prepareEmails([
      { sendId: 'send-f', leadId: other, html: HTML, text: TEXT, keepUrls: [] },
    ]);
    const kept = await prepare('send-g');
    const gonePixel = new URL(/src="(https:\/\/baton\.test\/o\/[^"]+)"/.exec(gone.html)?.[1] ?? '').pathname;
    const keptPixel = new URL(/src="(https:\/\/baton\.test\/o\/[^"]+)"/.exec(kept.html)?.[1] ?? '').pathname;
    await t.api.get(gonePixel).set('User-Agent', 'Thunderbird');
    await t.api.get(keptPixel).set('User-Agent', 'Thunderbird');
    await t.api.delete(`/api/leads/${other}`).set(t.auth).expect(204);
    await t.services.tracking.close();
    const opens = (await timeline('email_opened')).filter((event: { properties: { sendId: string } }) => event.properties.sendId === 'send-g');
    expect(opens).toHaveLength(1);
    // The erased lead's links went with it: its old click links now answer 404.
    expect((await t.api.get(clickPath(gone.html, 0))).status).toBe(404);
  });
});
