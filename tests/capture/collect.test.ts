import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { createCaptureTestApp, SITE_KEY, SITE_ORIGIN, type CaptureTestApp } from '../helpers/capture-app.js';

let t: CaptureTestApp;
beforeAll(async () => {
  t = await createCaptureTestApp({ BATON_COLLECT_VISITOR_RATE: '50/1m', BATON_COLLECT_IP_RATE: '100000/1m' });
});
afterAll(async () => {
  await t.close();
});

const newVisitor = () => randomBytes(16).toString('hex');
const collect = (body: unknown, origin: string | null = SITE_ORIGIN) => {
  const call = t.api.post('/collect').set('Content-Type', 'text/plain;charset=UTF-8');
  return (origin ? call.set('Origin', origin) : call).send(typeof body === 'string' ? body : JSON.stringify(body));
};
const view = (visitor: string, path: string, extra: Record<string, unknown> = {}) =>
  collect({ site: SITE_KEY, visitor, type: 'page_view', properties: { path, title: path }, ...extra });
const identify = (visitor: string, traits: Record<string, unknown>) => collect({ site: SITE_KEY, visitor, identify: traits });
const leadIdOf = async (email: string) => (await t.api.get('/api/leads').query({ email }).set(t.auth)).body.items[0]?.id as string | undefined;
const timeline = async (leadId: string) =>
  (
    (await t.api.get(`/api/leads/${leadId}/timeline`).set(t.auth)).body.items as Array<{
      type: string;
      properties: Record<string, unknown>;
      occurredAt: string;
    }>
  ).reverse();
const waiting = async (visitor: string) =>
  Number((await t.database.pool.query('select count(*) from visitor_events where visitor_id = $1', [visitor])).rows[0].count);

describe('GET /js/baton.js', () => {
  it('serves the snippet small, gzipped and cacheable, with an ETag that revalidates', async () => {
    // Through a socket, not supertest: superagent would gunzip the body before the test sees it.
    const server = http.createServer(t.app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const res = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/js/baton.js', headers: { 'Accept-Encoding': 'gzip, deflate, br' } }, (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        })
        .on('error', reject);
    });
    await new Promise((resolve) => server.close(resolve));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('public, max-age=3600');
    expect(res.headers['content-encoding']).toBe('gzip');
    expect(res.body.length).toBeLessThan(5 * 1024);
    const source = gunzipSync(res.body).toString('utf8');
    expect(source).toContain('var settings = {"gpc":true,"dnt":false};');
    expect(source).not.toMatch(/\bimport\b|\brequire\(/);
    const again = await t.api.get('/js/baton.js').set('If-None-Match', String(res.headers.etag));
    expect(again.status).toBe(304);
  });
});

describe('POST /collect', () => {
  it('refuses an unknown origin and a call without one with 403, and a foreign site key', async () => {
    const visitor = newVisitor();
    const unknown = await view(visitor, '/', {}).set('Origin', 'https://evil.example.net');
    expect(unknown.status).toBe(403);
    expect(unknown.body.error.code).toBe('origin_not_allowed');
    expect(unknown.headers['access-control-allow-origin']).toBeUndefined();
    const none = await collect({ site: SITE_KEY, visitor, type: 'page_view' }, null);
    expect(none.status).toBe(403);
    const wrongKey = await collect({ site: 'site_someone_else', visitor, type: 'page_view' });
    expect(wrongKey.status).toBe(403);
    expect(wrongKey.body.error).toMatchObject({ code: 'site_key_unknown', details: [{ field: 'site' }] });
    expect(await waiting(visitor)).toBe(0);
  });

  it('answers a preflight for a listed origin only', async () => {
    const ok = await t.api.options('/collect').set('Origin', SITE_ORIGIN).set('Access-Control-Request-Method', 'POST');
    expect(ok.status).toBe(204);
    expect(ok.headers['access-control-allow-origin']).toBe(SITE_ORIGIN);
    expect((await t.api.options('/collect').set('Origin', 'https://evil.example.net')).status).toBe(403);
  });

  it("keeps an anonymous visitor's events apart, then joins them to the lead at identify in time order, answering nothing about the lead", async () => {
    const visitor = newVisitor();
    for (const path of ['/', '/features', '/pricing']) {
      const res = await view(visitor, path);
      expect(res.status).toBe(202);
      expect(res.text).toBe('');
      expect(res.headers['access-control-allow-origin']).toBe(SITE_ORIGIN);
    }
    await t.capture.service.flush();
    expect(await waiting(visitor)).toBe(3);

    const res = await identify(visitor, { email: 'Zoe.Muller@Example.com', firstName: 'Zoë', lastName: 'Müller' });
    expect(res.status).toBe(202);
    expect(res.text).toBe('');
    const leadId = await leadIdOf('zoe.muller@example.com');
    expect(leadId).toBeDefined();
    const lead = (await t.api.get(`/api/leads/${leadId}`).set(t.auth)).body;
    expect(lead).toMatchObject({ firstName: 'Zoë', lastName: 'Müller', source: 'website' });
    expect(await waiting(visitor)).toBe(0);

    // Text PostgreSQL cannot store is refused up front, so it never stalls the write queue.
    expect((await collect({ site: SITE_KEY, visitor, type: 'page_view', properties: { path: '/a\u0000b' } })).status).toBe(400);
    expect((await collect({ site: SITE_KEY, visitor, type: 'page_view', properties: { title: 'broken \ud800' } })).status).toBe(400);
    // Form events are the forms' own (bot defences, consent): the snippet cannot send them.
    expect((await collect({ site: SITE_KEY, visitor, type: 'form_submit', properties: { form: 'demo' } })).status).toBe(400);
    expect((await collect({ site: SITE_KEY, visitor, type: 'webinar_registered', properties: { form: 'demo' } })).status).toBe(202);
    await t.capture.service.flush();
    const events = await timeline(leadId ?? '');
    expect(events.map((event) => [event.type, event.properties.path ?? event.properties.form])).toEqual([
      ['page_view', '/'],
      ['page_view', '/features'],
      ['page_view', '/pricing'],
      ['webinar_registered', 'demo'],
    ]);
    const times = events.map((event) => event.occurredAt);
    expect([...times].sort()).toEqual(times);
  });

  it('never overwrites what a lead already has from an identify (anyone can type any address)', async () => {
    await t.api.post('/api/leads').set(t.auth).send({ email: 'ceo@globex.test', firstName: 'Hank', title: 'CEO' });
    expect((await identify(newVisitor(), { email: 'ceo@globex.test', firstName: 'Mallory', title: 'Intern', company: 'Globex' })).status).toBe(202);
    const lead = (await t.api.get('/api/leads').query({ email: 'ceo@globex.test' }).set(t.auth)).body.items[0];
    expect(lead).toMatchObject({ firstName: 'Hank', title: 'CEO', company: 'Globex' });
  });

  it("joins a second device to the same lead, and switches a shared computer to the next person without moving the first one's events", async () => {
    const laptop = newVisitor();
    const phone = newVisitor();
    await view(laptop, '/blog');
    await view(phone, '/case-studies');
    await t.capture.service.flush();
    await identify(laptop, { email: 'ines@initech.test' });
    await identify(phone, { email: 'ines@initech.test' });
    const ines = (await leadIdOf('ines@initech.test')) ?? '';
    expect((await timeline(ines)).map((event) => event.properties.path).sort()).toEqual(['/blog', '/case-studies']);

    // The laptop is shared: Omar identifies on it next.
    await identify(laptop, { email: 'omar@initech.test' });
    await view(laptop, '/pricing');
    await t.capture.service.flush();
    const omar = (await leadIdOf('omar@initech.test')) ?? '';
    expect((await timeline(omar)).map((event) => event.properties.path)).toEqual(['/pricing']);
    expect((await timeline(ines)).map((event) => event.properties.path).sort()).toEqual(['/blog', '/case-studies']);
  });

  it('joins with a valid email-click token, and ignores a forged or expired one (the event is still kept, anonymously)', async () => {
    const leadId = (await t.api.post('/api/leads').set(t.auth).send({ email: 'clicker@example.com' })).body.id as string;
    const forged = newVisitor();
    const token = t.tokens.sign(leadId, new Date());
    const [payload = ''] = token.split('.');
    expect((await view(forged, '/landing', { token: `${payload}.AAAAAAAAAAAAAAAAAAAAAA` })).status).toBe(202);
    const expired = newVisitor();
    expect((await view(expired, '/landing', { token: t.tokens.sign(leadId, new Date(Date.now() - 2 * 3_600_000)) })).status).toBe(202);
    const genuine = newVisitor();
    expect((await view(genuine, '/landing', { token })).status).toBe(202);
    await t.capture.service.flush();
    expect(await waiting(forged)).toBe(1);
    expect(await waiting(expired)).toBe(1);
    expect(await waiting(genuine)).toBe(0);
    expect((await timeline(leadId)).map((event) => event.properties.path)).toEqual(['/landing']);
  });

  it("lands a person's click on the marketer's own site with a visitor token, byte-exact otherwise, and never on a third party's", async () => {
    const leadId = (await t.api.post('/api/leads').set(t.auth).send({ email: 'reader@example.com' })).body.id as string;
    const own = `${SITE_ORIGIN}/guide?utm_source=Email%20Q4&x=a+b#part-2`;
    const [prepared] = await t.services.tracking.prepareEmails([
      { sendId: 'send-vt', leadId, html: `<a href="${own}">a</a> <a href="https://partner.example.org/x">b</a>`, text: '', keepUrls: [] },
    ]);
    await t.database.pool.query(`update tracked_links set created_at = now() - interval '1 hour' where send_id = 'send-vt'`);
    const [first, second] = [...(prepared?.html ?? '').matchAll(/href="https:\/\/baton\.test(\/c\/[^"]+)"/g)].map((match) => match[1] ?? '');
    const person = 'Mozilla/5.0 (Macintosh) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15';
    const landed = (await t.api.get(first ?? '').set('User-Agent', person)).headers.location as string;
    const match = /^https:\/\/www\.example\.com\/guide\?utm_source=Email%20Q4&x=a\+b&baton_vt=([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)#part-2$/.exec(landed);
    expect(match).not.toBeNull();
    expect(t.tokens.verify(match?.[1] ?? '', new Date())).toBe(leadId);
    expect(landed).not.toContain('reader');
    expect((await t.api.get(second ?? '').set('User-Agent', person)).headers.location).toBe('https://partner.example.org/x');
    // A scanner's HEAD is not a person: no token.
    expect((await t.api.head(first ?? '').set('User-Agent', person)).headers.location).toBe(own);
  });

  it("refuses Baton's reserved types and bad fields with 400 naming the field", async () => {
    const reserved = await collect({ site: SITE_KEY, visitor: newVisitor(), type: 'email_clicked' });
    expect(reserved.status).toBe(400);
    expect(reserved.body.error.details[0]).toMatchObject({ field: 'type', location: 'body' });
    const malformed = await collect('{"site":');
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('malformed_json');
    const big = await collect({ site: SITE_KEY, visitor: newVisitor(), type: 'x', properties: { a: 'y'.repeat(9000) } });
    expect(big.status).toBe(413);
    const form = await t.api.post('/collect').set('Origin', SITE_ORIGIN).set('Content-Type', 'application/x-www-form-urlencoded').send('a=b');
    expect(form.status).toBe(415);
  });

  it('answers 429 with Retry-After past the per-visitor rate', async () => {
    const visitor = newVisitor();
    const statuses: number[] = [];
    for (let i = 0; i < 52; i++) statuses.push((await view(visitor, `/p${i}`)).status);
    expect(statuses.slice(0, 50).every((status) => status === 202)).toBe(true);
    const over = await view(visitor, '/over');
    expect(over.status).toBe(429);
    expect(over.body.error.code).toBe('rate_limited');
    expect(Number(over.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('limits per client address behind the local proxy (X-Forwarded-For), not per proxy', async () => {
    const limited = await createCaptureTestApp({ BATON_COLLECT_IP_RATE: '3/1m' });
    try {
      const send = (forwardedFor: string) =>
        limited.api
          .post('/collect')
          .set('Origin', SITE_ORIGIN)
          .set('Content-Type', 'text/plain')
          .set('X-Forwarded-For', forwardedFor)
          .send(JSON.stringify({ site: SITE_KEY, visitor: newVisitor(), type: 'page_view' }));
      const first = [];
      for (let i = 0; i < 4; i++) first.push((await send('198.51.100.7')).status);
      expect(first).toEqual([202, 202, 202, 429]);
      // The proxy appends the address it saw: an entry the client put before it changes nothing.
      expect((await send('1.2.3.4, 198.51.100.7')).status).toBe(429);
      expect((await send('203.0.113.9, 10.0.0.1')).status).toBe(202);
    } finally {
      await limited.close();
    }
  });

  it('answers 503, not 202, while the buffer of events waiting for the database is full, and records every event it accepted', async () => {
    const small = await createCaptureTestApp({}, { maxBufferedEvents: 3 });
    // A transaction holding the visitors table stalls every write, as a slow database would.
    const blocker = await small.database.pool.connect();
    try {
      await blocker.query('begin');
      await blocker.query('lock table visitors in exclusive mode');
      const visitor = newVisitor();
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) {
        statuses.push(
          (
            await small.api
              .post('/collect')
              .set('Origin', SITE_ORIGIN)
              .set('Content-Type', 'text/plain')
              .send(JSON.stringify({ site: SITE_KEY, visitor, type: 'page_view', properties: { path: `/p${i}` } }))
          ).status,
        );
      }
      expect(statuses.filter((status) => status === 202)).toHaveLength(3);
      expect(statuses.slice(3)).toEqual([503, 503]);
      await blocker.query('commit');
      await small.capture.service.flush();
      expect(Number((await small.database.pool.query('select count(*) from visitor_events where visitor_id = $1', [visitor])).rows[0].count)).toBe(3);
    } finally {
      blocker.release();
      await small.close();
    }
  });

  it('stores nothing for a browser sending Global Privacy Control', async () => {
    const visitor = newVisitor();
    const res = await view(visitor, '/').set('Sec-GPC', '1');
    expect(res.status).toBe(204);
    await t.capture.service.flush();
    expect(Number((await t.database.pool.query('select count(*) from visitors where id = $1', [visitor])).rows[0].count)).toBe(0);
  });

  it('answers 1,000 malformed calls without a 5xx and without a word about any lead', async () => {
    const statuses = new Map<number, number>();
    const bodies: string[] = [];
    const shapes: Array<() => unknown> = [
      () => randomBytes(40).toString('base64'),
      () => JSON.stringify({ site: SITE_KEY, visitor: newVisitor(), identify: { email: 'zoe.muller@example.com', tags: ['x'] } }),
      () => JSON.stringify({ site: SITE_KEY, visitor: newVisitor(), type: 'page_view', properties: [1, 2] }),
      () => JSON.stringify({ site: SITE_KEY, visitor: '../../etc/passwd', type: 'page_view' }),
      () => JSON.stringify({ site: SITE_KEY, visitor: newVisitor(), type: 'page_view', token: 'a'.repeat(600) }),
      () => JSON.stringify({ site: SITE_KEY, visitor: newVisitor(), type: { $ne: 1 } }),
      () => JSON.stringify({ site: [SITE_KEY], visitor: newVisitor(), identify: 'zoe.muller@example.com' }),
      () => JSON.stringify(null),
      () => '{"__proto__":{"polluted":1},"site":"x"}',
      () => JSON.stringify({ site: SITE_KEY, visitor: newVisitor(), type: 'page_view', properties: { ['k'.repeat(200)]: 1 } }),
    ];
    for (let i = 0; i < 1000; i++) {
      const res = await collect((shapes[i % shapes.length] ?? (() => ''))() as string);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      bodies.push(res.text);
    }
    expect([...statuses.keys()].filter((status) => status >= 500)).toEqual([]);
    expect([...statuses.keys()].every((status) => status === 400)).toBe(true);
    const all = bodies.join('\n');
    expect(all).not.toMatch(/Zo[eë]|M[uü]ller|[0-9a-f]{8}-[0-9a-f]{4}-/);
    const fresh: Record<string, unknown> = {};
    expect(fresh.polluted).toBeUndefined();
  });

  it('drops anonymous visitors past the retention with their events, and keeps identified ones', async () => {
    const stale = newVisitor();
    const known = newVisitor();
    await view(stale, '/old');
    await view(known, '/old');
    await t.capture.service.flush();
    await identify(known, { email: 'kept@example.com' });
    await t.database.pool.query(`update visitors set last_seen_at = now() - interval '31 days' where id = any($1)`, [[stale, known]]);
    expect(await t.capture.service.pruneAnonymousVisitors(new Date())).toBe(1);
    expect((await t.database.pool.query('select id from visitors where id = any($1)', [[stale, known]])).rows.map((row) => row.id)).toEqual([known]);
    expect(await waiting(stale)).toBe(0);
  });
});
