import request from 'supertest';
import { createDashboardSessions } from '../../src/dashboard/sessions.service.js';
import { SIGN_IN_LIMITS } from '../../src/dashboard/sign-in.routes.js';
import { until } from '../helpers/until.js';
import { linkIn, REP_API_KEY, REP_SECRET, startRepDashboard, type RepDashboard } from '../helpers/rep-dashboard.js';

/*
 * Signing in to the dashboard, through HTTP against a running Baton: reps by single-use emailed
 * link (no account enumeration; forged, reused and expired links refused with a clear page),
 * sessions revoked on sign-out and by rotating the API key, rep-scoped handoffs, the Origin check
 * on form posts, frame headers, and sign-in throttling (issue 10 §3, issue 16 items 2 and 14).
 */

let t: RepDashboard;
let repCookie = '';

beforeAll(async () => {
  t = await startRepDashboard();
}, 90_000);

afterAll(async () => {
  await t?.close();
});

const web = () => request(t.url);
/** The session cookie a response set, as a Cookie header; '' when it set none. */
const cookieOf = (res: request.Response) => {
  const setCookie = res.headers['set-cookie'] as unknown as string[] | undefined;
  return setCookie?.find((line) => line.startsWith('baton_session='))?.split(';')[0] ?? '';
};
/** A link from a mail, on the running server (the configured public URL has port 0 in tests). */
const onServer = (link: string) => new URL(link).pathname;

async function adminCookie(): Promise<string> {
  const res = await web().post('/dashboard/login').type('form').send({ key: REP_API_KEY, next: '/dashboard/sequences' });
  expect(res.status).toBe(303);
  return cookieOf(res);
}

/** The sign-in mails to `email`, oldest first, once there are `count` of them. */
const signInMails = (email: string, count: number) =>
  until(
    async () => (await t.mailsTo(email)).filter((message) => /sign-in link/i.test(message.subject ?? '')),
    (mails) => mails.length >= count,
    40_000,
  );

async function signInLinkFor(email: string, count: number): Promise<string> {
  const res = await web().post('/dashboard/login/link').type('form').send({ email, next: '/dashboard/handoffs' });
  expect(res.status).toBe(200);
  const mails = await signInMails(email, count);
  return onServer(linkIn(mails.at(-1)?.text ?? '', '/dashboard/sign-in/'));
}

describe('reps sign in by emailed link', () => {
  it("answers an address the same whether or not it is a rep's, and mails only the rep", async () => {
    const rep = await web().post('/dashboard/login/link').type('form').send({ email: 'Alex@Sales.test' });
    const stranger = await web().post('/dashboard/login/link').type('form').send({ email: 'alex@sales.test.evil' });
    expect(rep.status).toBe(200);
    expect(stranger.status).toBe(200);
    expect(rep.text.replace('alex@sales.test', 'ADDRESS')).toBe(stranger.text.replace('alex@sales.test.evil', 'ADDRESS'));
    const [mail] = await signInMails('alex@sales.test', 1);
    expect(mail?.text).toContain('/dashboard/sign-in/');
    expect(await t.mailsTo('alex@sales.test.evil')).toEqual([]);
  });

  it('signs the rep in once with the link; a second use is refused with a clear page and no session', async () => {
    const link = await signInLinkFor('alex@sales.test', 2);
    const shown = await web().get(link);
    expect(shown.status).toBe(200);
    expect(shown.text).toContain('Alex Kim');
    expect(cookieOf(shown)).toBe('');
    const used = await web().post(link);
    expect(used.status).toBe(303);
    expect(used.headers.location).toBe('/dashboard/handoffs');
    repCookie = cookieOf(used);
    expect(repCookie).toMatch(/^baton_session=[\w-]{43}$/);

    const again = await web().post(link);
    expect(again.status).toBe(410);
    expect(again.text).toContain('already been used');
    expect(cookieOf(again)).toBe('');
    expect((await web().get(link)).status).toBe(410);
  });

  it('refuses a forged or expired link with a clear page, and signs nobody in', async () => {
    const link = await signInLinkFor('lea@sales.test', 1);
    const token = link.split('/').pop() ?? '';
    const [payload, signature] = token.split('.');
    const forgedPayload = `/dashboard/sign-in/${Buffer.from(JSON.stringify(['alex', 'nonce', 9_999_999_999, '/dashboard'])).toString('base64url')}.${signature}`;
    const otherSecret = createDashboardSessions({
      db: t.baton.database.db,
      apiKey: REP_API_KEY,
      secret: 'another-secret-0123456789abcdef0123456789',
      publicUrl: 'http://localhost:0',
      reps: [
        { id: 'alex', name: 'Alex Kim', email: 'alex@sales.test', timezone: 'UTC', slackWebhookUrl: null, capacity: null, outOfOffice: [], territories: [] },
      ],
    });
    for (const forged of [
      forgedPayload,
      `/dashboard/sign-in/${payload}.${'A'.repeat(22)}`,
      `/dashboard/sign-in/${payload}`,
      onServer(
        otherSecret.signInLink(
          { id: 'alex', name: 'Alex Kim', email: 'alex@sales.test', timezone: 'UTC', slackWebhookUrl: null, capacity: null, outOfOffice: [], territories: [] },
          '/dashboard',
          new Date(),
        ),
      ),
    ]) {
      for (const method of ['get', 'post'] as const) {
        const res = await web()[method](forged);
        expect([method, res.status]).toEqual([method, 404]);
        expect(res.text).toContain('This sign-in link is not valid');
        expect(cookieOf(res)).toBe('');
      }
    }
    const sameSecret = createDashboardSessions({
      db: t.baton.database.db,
      apiKey: REP_API_KEY,
      secret: REP_SECRET,
      publicUrl: 'http://localhost:0',
      reps: [
        { id: 'lea', name: 'Léa Martin', email: 'lea@sales.test', timezone: 'UTC', slackWebhookUrl: null, capacity: null, outOfOffice: [], territories: [] },
      ],
    });
    const expired = onServer(
      sameSecret.signInLink(
        { id: 'lea', name: 'Léa Martin', email: 'lea@sales.test', timezone: 'UTC', slackWebhookUrl: null, capacity: null, outOfOffice: [], territories: [] },
        '/dashboard',
        new Date(Date.now() - 16 * 60_000),
      ),
    );
    for (const method of ['get', 'post'] as const) {
      const res = await web()[method](expired);
      expect(res.status).toBe(410);
      expect(res.text).toContain('has expired');
      expect(cookieOf(res)).toBe('');
    }
  });

  it("shows a rep only their own handoffs, refuses another rep's with 403, and records decisions as rep:<id>", async () => {
    const inbox = await web().get('/dashboard/handoffs').set('Cookie', repCookie);
    expect(inbox.status).toBe(200);
    expect(inbox.text).toContain('Grace Hopper');
    expect(inbox.text).not.toContain('Marie Curie');
    const theirs = await web().get(`/dashboard/handoffs/${t.marie.handoffId}`).set('Cookie', repCookie);
    expect(theirs.status).toBe(403);
    const decide = await web().post(`/dashboard/handoffs/${t.marie.handoffId}/accept`).set('Cookie', repCookie).set('Origin', t.url);
    expect(decide.status).toBe(403);
    expect((await t.api.get(`/api/handoffs/${t.marie.handoffId}`).set(t.auth)).body.status).toBe('pending');

    const accepted = await web().post(`/dashboard/handoffs/${t.grace.handoffId}/accept`).set('Cookie', repCookie).set('Origin', t.url);
    expect(accepted.status).toBe(303);
    expect((await t.api.get(`/api/handoffs/${t.grace.handoffId}`).set(t.auth)).body).toMatchObject({ status: 'accepted', decidedBy: 'rep:alex' });
    // The admin sees everyone's.
    const all = await web()
      .get('/dashboard/handoffs')
      .set('Cookie', await adminCookie());
    expect(all.text).toContain('Grace Hopper');
    expect(all.text).toContain('Marie Curie');
  });

  it("shows a rep only the leads handed to them: another rep's lead is 403 and absent from the list and search", async () => {
    const own = await web().get(`/dashboard/leads/${t.grace.leadId}`).set('Cookie', repCookie);
    expect(own.status).toBe(200);
    const theirs = await web().get(`/dashboard/leads/${t.marie.leadId}`).set('Cookie', repCookie);
    expect(theirs.status).toBe(403);
    expect(theirs.text).not.toContain('marie@sorbonne.test');
    const list = await web().get('/dashboard/leads').set('Cookie', repCookie);
    expect(list.text).toContain('grace@navy.test');
    expect(list.text).not.toContain('marie@sorbonne.test');
    const search = await web().get('/dashboard/leads').query({ q: 'sorbonne' }).set('Cookie', repCookie);
    expect(search.text).not.toContain('marie@sorbonne.test');
    const admin = await web()
      .get(`/dashboard/leads/${t.marie.leadId}`)
      .set('Cookie', await adminCookie());
    expect(admin.status).toBe(200);
  });

  it("keeps the sink's mail (every rep's sign-in links) from reps", async () => {
    expect((await web().get('/dashboard/mail').set('Cookie', repCookie)).status).toBe(403);
  });

  it("keeps the Pipeline page (every rep's outcomes) for the admin: 403 and no link for a rep", async () => {
    const refused = await web().get('/dashboard/pipeline').set('Cookie', repCookie);
    expect(refused.status).toBe(403);
    expect(refused.text).not.toContain('href="/dashboard/pipeline"');
    const admin = await web()
      .get('/dashboard/pipeline')
      .set('Cookie', await adminCookie());
    expect(admin.status).toBe(200);
    expect(admin.text).toContain('Lifecycle funnel');
  });
});

describe('dashboard sessions and form posts (issue 16)', () => {
  it('revokes the session on sign-out: the same cookie replayed afterwards is refused', async () => {
    const cookie = await adminCookie();
    expect((await web().get('/dashboard/sequences').set('Cookie', cookie)).status).toBe(200);
    const out = await web().post('/dashboard/logout').set('Cookie', cookie);
    expect(out.status).toBe(303);
    const replayed = await web().get('/dashboard/sequences').set('Cookie', cookie);
    expect(replayed.status).toBe(303);
    expect(replayed.headers.location).toBe('/dashboard/login?next=%2Fdashboard%2Fsequences');
  });

  it('refuses a cookie POST with a foreign Origin, even without Sec-Fetch-Site', async () => {
    const cookie = await adminCookie();
    for (const origin of ['https://evil.test', 'null', `${t.url}.evil.test`]) {
      const res = await web().post(`/dashboard/handoffs/${t.marie.handoffId}/convert`).set('Cookie', cookie).set('Origin', origin).type('form').send({});
      expect([origin, res.status]).toEqual([origin, 403]);
    }
    expect((await t.api.get(`/api/handoffs/${t.marie.handoffId}`).set(t.auth)).body.status).toBe('pending');
  });

  it('forbids framing of dashboard, /u/ and /h/ pages', async () => {
    const pages = ['/dashboard/login', '/u/not-a-token', '/h/not-a-token', `/dashboard/handoffs/${t.grace.handoffId}`];
    const cookie = await adminCookie();
    for (const page of pages) {
      const res = await web().get(page).set('Cookie', cookie);
      expect([page, res.headers['x-frame-options']]).toEqual([page, 'DENY']);
      expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    }
  });

  it('ends admin sessions made with an API key once the key is rotated; rep sessions go on', async () => {
    const cookie = await adminCookie();
    await t.restartWithKey('rotated-api-key-0123456789abcdef-new');
    const old = await web().get('/dashboard/sequences').set('Cookie', cookie);
    expect(old.status).toBe(303);
    expect(old.headers.location).toContain('/dashboard/login');
    expect((await web().get('/dashboard/handoffs').set('Cookie', repCookie)).status).toBe(200);
    const fresh = await web().post('/dashboard/login').type('form').send({ key: 'rotated-api-key-0123456789abcdef-new', next: '/dashboard/sequences' });
    expect((await web().get('/dashboard/sequences').set('Cookie', cookieOf(fresh))).status).toBe(200);
  }, 60_000);

  // Last: it uses up this address's allowance.
  it('throttles sign-in: wrong API keys per IP, sign-in links per address, with 429 and Retry-After', async () => {
    for (let attempt = 0; attempt < SIGN_IN_LIMITS.failuresPerIp; attempt++) {
      expect(
        (
          await web()
            .post('/dashboard/login')
            .type('form')
            .send({ key: `wrong-${attempt}` })
        ).status,
      ).toBe(401);
    }
    const throttled = await web().post('/dashboard/login').type('form').send({ key: 'rotated-api-key-0123456789abcdef-new' });
    expect(throttled.status).toBe(429);
    expect(Number(throttled.headers['retry-after'])).toBeGreaterThan(0);
    expect(throttled.text).toContain('Too many sign-in attempts');
    // Bad sign-in links count as failures too.
    expect((await web().get('/dashboard/sign-in/forged.token')).status).toBe(429);

    const asked: number[] = [];
    for (let attempt = 0; attempt <= SIGN_IN_LIMITS.linksPerAddress; attempt++) {
      asked.push((await web().post('/dashboard/login/link').type('form').send({ email: 'someone@else.test' })).status);
    }
    expect(asked).toEqual([...Array<number>(SIGN_IN_LIMITS.linksPerAddress).fill(200), 429]);
  });
});
