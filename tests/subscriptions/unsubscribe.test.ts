import { unsubscribeUrl } from '../../src/subscriptions/unsubscribe-token.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

let t: TestApp;
let leadId: string;
let path: string;

beforeAll(async () => {
  t = await createTestApp();
  leadId = (await t.api.post('/api/leads').set(t.auth).send({ email: 'leaving@example.com' })).body.id;
  path = new URL(unsubscribeUrl('https://baton.example.com', t.services.unsubscribeSigner, { leadId, sendId: 'send-1' })).pathname;
});
afterAll(async () => {
  await t.close();
});

const lead = async () => (await t.api.get(`/api/leads/${leadId}`).set(t.auth)).body;

describe('one-click unsubscribe (RFC 8058)', () => {
  it('GET shows a confirmation page with a button and changes nothing', async () => {
    const res = await t.api.get(path);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.text).toContain('<form method="post"><button type="submit">Unsubscribe</button></form>');
    expect(res.text).toContain('Acme Test');
    expect((await lead()).unsubscribedAt).toBeNull();
  });

  it('POST List-Unsubscribe=One-Click unsubscribes with 200, no redirect, no cookie, no key', async () => {
    const res = await t.api.post(path).type('form').send('List-Unsubscribe=One-Click');
    expect(res.status).toBe(200);
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.text).toContain('You are unsubscribed');
    expect((await lead()).unsubscribedAt).not.toBeNull();
    const timeline = await t.api.get(`/api/leads/${leadId}/timeline`).set(t.auth);
    expect(timeline.body.items).toEqual([expect.objectContaining({ type: 'unsubscribed', properties: { source: 'one_click', sendId: 'send-1' } })]);
  });

  it('is idempotent: a second POST answers 200 and records nothing more', async () => {
    const before = (await lead()).unsubscribedAt;
    const res = await t.api.post(path).type('form').send('');
    expect(res.status).toBe(200);
    expect((await lead()).unsubscribedAt).toBe(before);
    const timeline = await t.api.get(`/api/leads/${leadId}/timeline`).set(t.auth);
    expect(timeline.body.items).toHaveLength(1);
  });

  it('accepts the multipart form some mail providers send', async () => {
    const other = (await t.api.post('/api/leads').set(t.auth).send({ email: 'multipart@example.com' })).body.id;
    const otherPath = new URL(unsubscribeUrl('https://x', t.services.unsubscribeSigner, { leadId: other, sendId: null })).pathname;
    const res = await t.api.post(otherPath).field('List-Unsubscribe', 'One-Click');
    expect(res.status).toBe(200);
    expect((await t.api.get(`/api/leads/${other}`).set(t.auth)).body.unsubscribedAt).not.toBeNull();
  });

  it('answers a tampered or unknown token with a 404 page and changes nothing', async () => {
    const victim = (await t.api.post('/api/leads').set(t.auth).send({ email: 'victim@example.com' })).body.id;
    const [, token] = path.split('/u/');
    const forged = `${Buffer.from(JSON.stringify([victim, null])).toString('base64url')}.${token?.split('.')[1]}`;
    for (const bad of [`/u/${forged}`, '/u/nonsense', `/u/${token}x`]) {
      const get = await t.api.get(bad);
      const post = await t.api.post(bad).type('form').send('List-Unsubscribe=One-Click');
      expect([get.status, post.status]).toEqual([404, 404]);
      expect(post.text).toContain('Link not recognised');
    }
    expect((await t.api.get(`/api/leads/${victim}`).set(t.auth)).body.unsubscribedAt).toBeNull();
  });

  it('answers 200 for an erased lead: the address is suppressed anyway', async () => {
    const gone = (await t.api.post('/api/leads').set(t.auth).send({ email: 'gone@example.com' })).body.id;
    const gonePath = new URL(unsubscribeUrl('https://x', t.services.unsubscribeSigner, { leadId: gone, sendId: null })).pathname;
    await t.api.delete(`/api/leads/${gone}`).set(t.auth).expect(204);
    expect((await t.api.post(gonePath).type('form').send('List-Unsubscribe=One-Click')).status).toBe(200);
  });
});
