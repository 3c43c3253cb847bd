import { REP_API_KEY, startRepDashboard, type RepDashboard } from '../helpers/rep-dashboard.js';

/*
 * A generated barrage of malformed requests to the dashboard's sign-in, session and handoff
 * endpoints: broken forms, forged tokens, bad cookies, bad cursors and ids, foreign origins.
 * None may get a 5xx, each gets a page that says something, and the server still answers after.
 */

interface Case {
  name: string;
  method: 'GET' | 'POST';
  path: string;
  body?: string;
  contentType?: string;
  cookie?: string;
  origin?: string;
}

// Small deterministic PRNG (mulberry32) so a failure can be replayed.
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let value = Math.imul(state ^ (state >>> 15), 1 | state);
    value = (value + Math.imul(value ^ (value >>> 7), 61 | value)) ^ value;
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

const WEIRD = [
  '',
  '%00',
  '%ZZ',
  '%E0%A4%A',
  'x'.repeat(600),
  '..%2F..%2Fetc',
  '<script>',
  '%F0%9F%92%A9',
  'a.b.c',
  'a.',
  '.b',
  'null',
  '[]',
  '{}',
  '\u00e9',
  '%2E%2E',
];
const EMAILS = [
  '',
  'a',
  '@',
  'a@b',
  'x'.repeat(300) + '@example.com',
  '<script>@x.test',
  'a b@c.test',
  'a%00@b.test',
  '%E0%A4%A@b.test',
  'alex@sales.test%0d%0aBcc:x@y.test',
  'ALEX@SALES.TEST',
];

function buildCases(t: RepDashboard, adminCookie: string): Case[] {
  const next = random(20261130);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)] as T;
  const cases: Case[] = [];
  const cookies = [
    'baton_session=',
    'baton_session=%',
    'baton_session=%E0%A4%A',
    `baton_session=${'x'.repeat(5000)}`,
    `baton_session=${'A'.repeat(43)}`,
    'baton_session=a.b',
    'baton_session="quoted"',
    adminCookie,
  ];
  const handoffIds = [t.grace.handoffId, t.marie.handoffId, '00000000-0000-4000-8000-000000000000', 'not-a-uuid', '%00', 'x'.repeat(300)];
  for (let round = 0; round < 20; round++) {
    for (const weird of WEIRD) {
      cases.push({ name: 'sign-in token', method: pick(['GET', 'POST']), path: `/dashboard/sign-in/${weird || 'x'}` });
      cases.push({
        name: 'login form',
        method: 'POST',
        path: '/dashboard/login',
        body: `key=${weird}&next=${pick(WEIRD)}`,
        contentType: 'application/x-www-form-urlencoded',
      });
      cases.push({
        name: 'leads query',
        method: 'GET',
        path: `/dashboard/leads?${pick(['q', 'cursor', 'sort'])}=${weird}${next() < 0.5 ? '&sort=score' : ''}`,
        cookie: adminCookie,
      });
    }
    for (const email of EMAILS) {
      cases.push({
        name: 'link form',
        method: 'POST',
        path: '/dashboard/login/link',
        body: `email=${encodeURIComponent(email)}&next=${pick(WEIRD)}`,
        contentType: 'application/x-www-form-urlencoded',
      });
    }
    cases.push({
      name: 'link form as json',
      method: 'POST',
      path: '/dashboard/login/link',
      body: JSON.stringify({ email: ['alex@sales.test'] }),
      contentType: 'application/json',
    });
    cases.push({
      name: 'login form repeated key',
      method: 'POST',
      path: '/dashboard/login',
      body: `key=${REP_API_KEY}&key=${REP_API_KEY}`,
      contentType: 'application/x-www-form-urlencoded',
    });
    cases.push({
      name: 'login form too large',
      method: 'POST',
      path: '/dashboard/login',
      body: `key=${'k'.repeat(20_000)}`,
      contentType: 'application/x-www-form-urlencoded',
    });
    cases.push({
      name: 'login form too many fields',
      method: 'POST',
      path: '/dashboard/login',
      body: Array.from({ length: 40 }, (_, index) => `f${index}=1`).join('&'),
      contentType: 'application/x-www-form-urlencoded',
    });
    for (const cookie of cookies) {
      cases.push({
        name: 'cookie',
        method: 'GET',
        path: pick(['/dashboard/handoffs', '/dashboard/leads', '/dashboard/sequences', '/dashboard/mail', `/dashboard/handoffs/${pick(handoffIds)}`]),
        cookie,
      });
      cases.push({ name: 'cookie logout', method: 'POST', path: '/dashboard/logout', cookie: cookie === adminCookie ? 'baton_session=%' : cookie });
    }
    for (const id of handoffIds) {
      cases.push({ name: 'handoff id', method: 'GET', path: `/dashboard/handoffs/${encodeURIComponent(id)}`, cookie: adminCookie });
      const action = pick(['accept', 'reject', 'convert']);
      // A foreign origin on every valid id: nothing may change, and nothing may crash.
      cases.push({
        name: 'decide',
        method: 'POST',
        path: `/dashboard/handoffs/${encodeURIComponent(id)}/${action}`,
        cookie: adminCookie,
        origin: UUID_OK.test(id) ? pick(['https://evil.test', 'null']) : undefined,
        body: `reason=${pick(WEIRD)}`,
        contentType: pick(['application/x-www-form-urlencoded', 'text/plain', 'application/json']),
      });
    }
    cases.push({ name: 'handoffs query', method: 'GET', path: `/dashboard/handoffs?${pick(['cursor', 'status', 'rep'])}=${pick(WEIRD)}`, cookie: adminCookie });
    cases.push({ name: 'lead id', method: 'GET', path: `/dashboard/leads/${pick(WEIRD) || 'x'}`, cookie: adminCookie });
    cases.push({ name: 'mail id', method: 'GET', path: `/dashboard/mail/${pick(WEIRD) || 'x'}`, cookie: adminCookie });
  }
  return cases;
}

const UUID_OK = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

let t: RepDashboard;
beforeAll(async () => {
  t = await startRepDashboard();
}, 90_000);
afterAll(async () => {
  await t?.close();
});

describe('a barrage of malformed requests to the dashboard', () => {
  it('never gets a 5xx, always gets an answer that says something, and changes no handoff', async () => {
    const login = await fetch(`${t.url}/dashboard/login`, { method: 'POST', body: new URLSearchParams({ key: REP_API_KEY }), redirect: 'manual' });
    const adminCookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    expect(adminCookie).toMatch(/^baton_session=/);
    const cases = buildCases(t, adminCookie);
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const concurrency = 8;
    for (let start = 0; start < cases.length; start += concurrency) {
      await Promise.all(
        cases.slice(start, start + concurrency).map(async (testCase) => {
          const res = await fetch(`${t.url}${testCase.path}`, {
            method: testCase.method,
            redirect: 'manual',
            headers: {
              ...(testCase.body !== undefined ? { 'Content-Type': testCase.contentType ?? 'application/x-www-form-urlencoded' } : {}),
              ...(testCase.cookie ? { Cookie: testCase.cookie } : {}),
              ...(testCase.origin ? { Origin: testCase.origin } : {}),
              // Baton trusts X-Forwarded-For from loopback (a local proxy): each case comes from its own
              // address, so the per-IP throttle does not answer 429 before the input is even read.
              'X-Forwarded-For': `10.${(start >> 8) & 255}.${start & 255}.${cases.indexOf(testCase) % 256}`,
            },
            body: testCase.body,
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const text = await res.text();
          const describe = `${testCase.name} ${testCase.method} ${testCase.path.slice(0, 80)} -> ${res.status} ${text.slice(0, 200)}`;
          if (res.status >= 500) failures.push(describe);
          else if (res.status >= 400 && text.trim().length === 0) failures.push(`empty answer: ${describe}`);
        }),
      );
    }
    expect(failures).toEqual([]);
    expect([...statuses.keys()].every((status) => status < 500)).toBe(true);
    expect((await fetch(`${t.url}/health`)).status).toBe(200);
    for (const id of [t.grace.handoffId, t.marie.handoffId]) expect((await t.api.get(`/api/handoffs/${id}`).set(t.auth)).body.status).toBe('pending');
    console.log('dashboard barrage statuses', Object.fromEntries(statuses));
  }, 120_000);
});
