import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from './helpers/test-app.js';

/*
 * A generated barrage of malformed requests. Every one must get a 4xx whose body names what was
 * wrong, none a 5xx, and the server must still answer afterwards.
 */

interface Case {
  name: string;
  method: string;
  path: string;
  body?: string;
  contentType?: string;
  encoding?: string;
  /** A field the error details must name; null when the request has no field to name (broken JSON). */
  field: string | null;
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

const MEGABYTE_STRING = 'x'.repeat(1024 * 1024);
const WRONG_VALUES: Record<string, unknown[]> = {
  email: [42, true, [], {}, 'plainaddress', '@no-local.com', 'a@b', 'a@@b.com', 'a b@c.com', `${'x'.repeat(300)}@example.com`, MEGABYTE_STRING],
  firstName: [1, [], {}, true, MEGABYTE_STRING],
  lastName: [2.5, ['x'], { a: 1 }, MEGABYTE_STRING],
  company: [false, [1], 3, MEGABYTE_STRING],
  title: [{}, 7, MEGABYTE_STRING],
  phone: ['call me', 'DROP TABLE', 123, '+1 <script>'],
  timezone: ['Mars/Olympus', 'GMT+25', '+02:00', 'Europe/Atlantis', 5, '', MEGABYTE_STRING],
  country: ['France', 'F', 'F1', 33, '🇫🇷'],
  source: [[], {}, 9, MEGABYTE_STRING],
  traits: ['string', [1, 2], 5, { blob: MEGABYTE_STRING.slice(0, 20_000) }],
  tags: ['vip', [1], [''], ['a,b'], [['nested']], ['dup', 'dup'], [MEGABYTE_STRING.slice(0, 100)]],
  consent: ['yes', { status: 'granted' }, { status: 'nope', source: 's', at: '2026-01-01T00:00:00Z' }, { status: 'granted', source: 's', at: 'yesterday' }],
  unsubscribed: [false, 'yes', 0],
};
const UNKNOWN_FIELDS = ['favouriteColour', '__proto__x', 'constructor', 'id', 'createdAt', 'leadScore'];
const EVENT_WRONG_VALUES: Record<string, unknown[]> = {
  type: ['', '1starts-with-digit', 'has space', 'email_clicked', 'x'.repeat(101), 7, null, MEGABYTE_STRING],
  leadId: ['not-a-uuid', 12, '00000000-0000-0000-0000-00000000000g'],
  email: ['nope', 3, 'a@b'],
  properties: ['text', [1], 8, { blob: MEGABYTE_STRING.slice(0, 20_000) }],
  occurredAt: ['yesterday', '2999-01-01T00:00:00Z', '1970-01-01T00:00:00Z', 'x', true],
};
const QUERY_CASES: Array<[string, string]> = [
  ['limit', 'limit=abc'],
  ['limit', 'limit=-1'],
  ['limit', 'limit=0'],
  ['limit', 'limit=1e9'],
  ['limit', 'limit=2.5'],
  ['cursor', 'cursor=%%%'],
  ['cursor', 'cursor=bm9wZQ'],
  ['cursor', 'cursor=WyJ4IiwieSJd'],
  ['cursor', `cursor=${'A'.repeat(600)}`],
  ['email', 'email=not-an-email'],
  ['tag', 'tag=a,b'],
  ['tag', 'tag=a&tag=b'],
  ['q', `q=${'y'.repeat(300)}`],
  ['unknown', 'unknown=1'],
];

function buildCases(): Case[] {
  const next = random(20261127);
  const pick = <T>(items: T[]): T => items[Math.floor(next() * items.length)] as T;
  const cases: Case[] = [];
  const validLead = () => ({ email: `ok${Math.floor(next() * 1e6)}@example.com`, firstName: 'Valid' });

  for (let round = 0; round < 14; round++) {
    for (const [field, values] of Object.entries(WRONG_VALUES)) {
      const value = pick(values);
      const body = field === 'email' ? { email: value } : { ...validLead(), [field]: value };
      cases.push({ name: `lead ${field}`, method: 'POST', path: '/api/leads', body: JSON.stringify(body), field });
      cases.push({
        name: `patch ${field}`,
        method: 'PATCH',
        path: '/api/leads/00000000-0000-4000-8000-000000000000',
        body: JSON.stringify({ [field]: value }),
        field,
      });
    }
    for (const field of UNKNOWN_FIELDS) {
      cases.push({ name: `unknown ${field}`, method: 'POST', path: '/api/leads', body: JSON.stringify({ ...validLead(), [field]: 'x' }), field });
    }
    cases.push({ name: 'missing email', method: 'POST', path: '/api/leads', body: JSON.stringify({ firstName: pick(['a', 'b']) }), field: 'email' });
    for (const [field, values] of Object.entries(EVENT_WRONG_VALUES)) {
      const event: Record<string, unknown> = { leadId: '00000000-0000-4000-8000-000000000000', type: 'page_view', [field]: pick(values) };
      if (field === 'email') delete event.leadId;
      const batch = next() < 0.5;
      const position = Math.floor(next() * 3);
      const body = batch ? [...Array.from({ length: position }, () => ({ email: 'fine@example.com', type: 'ok' })), event] : event;
      cases.push({ name: `event ${field}`, method: 'POST', path: '/api/events', body: JSON.stringify(body), field: batch ? `[${position}].${field}` : field });
    }
    for (const [field, query] of QUERY_CASES) {
      cases.push({ name: `list ${field}`, method: 'GET', path: `/api/leads?${query}`, field });
      if (field === 'limit' || field === 'cursor')
        cases.push({ name: `timeline ${field}`, method: 'GET', path: `/api/leads/00000000-0000-4000-8000-000000000000/timeline?${query}`, field });
    }
    for (const id of ['42', 'not-a-uuid', '00000000-0000-4000-8000-00000000000Z', 'x'.repeat(300), '%00']) {
      cases.push({ name: 'bad id', method: pick(['GET', 'DELETE']), path: `/api/leads/${encodeURIComponent(id)}`, field: 'id' });
      cases.push({ name: 'bad id timeline', method: 'GET', path: `/api/leads/${encodeURIComponent(id)}/timeline`, field: 'id' });
    }
    const broken = ['{', '{"email":', '{"email": "a@b.co",}', "{'email': 'x'}", '[1,2', 'nul', '{"a":1}}', '\u0000', '{"email":"a@b.co"'];
    for (const body of broken) {
      cases.push({ name: 'broken json', method: pick(['POST']), path: pick(['/api/leads', '/api/events']), body, field: null });
    }
    const unstorable = ['nul\u0000byte', 'lone \ud800 surrogate', 'trailing \udc00'];
    const textField = pick(['firstName', 'company', 'source']);
    cases.push({
      name: 'unstorable text',
      method: 'POST',
      path: '/api/leads',
      body: JSON.stringify({ ...validLead(), [textField]: pick(unstorable) }),
      field: textField,
    });
    cases.push({
      name: 'unstorable trait',
      method: 'POST',
      path: '/api/leads',
      body: JSON.stringify({ ...validLead(), traits: { note: pick(unstorable) } }),
      field: 'traits.note',
    });
    cases.push({
      name: 'unstorable trait key',
      method: 'POST',
      path: '/api/leads',
      body: JSON.stringify({ ...validLead(), traits: { ['k\u0000']: 1 } }),
      field: 'traits',
    });
    cases.push({
      name: 'unstorable property',
      method: 'POST',
      path: '/api/events',
      body: JSON.stringify({ email: 'p@example.com', type: 'page_view', properties: { path: pick(unstorable) } }),
      field: 'properties.path',
    });
    const [queryField, queryValue] = pick([
      ['q', 'a%00b'],
      ['tag', 'x%00'],
      ['email', 'a%00@b.co'],
    ]) as [string, string];
    cases.push({ name: 'unstorable query', method: 'GET', path: `/api/leads?${queryField}=${queryValue}`, field: queryField });
    let deep: unknown = 'bottom';
    for (let level = 0; level < 40 + round; level++) deep = { next: deep };
    cases.push({ name: 'deep nesting', method: 'POST', path: '/api/leads', body: JSON.stringify({ ...validLead(), traits: { deep } }), field: 'traits' });
    const farCursor = Buffer.from(
      JSON.stringify([
        pick(['-010000-01-01T00:00:00.000Z', '+275760-09-13T00:00:00.000Z', '1969-12-31T23:59:59.999Z', '2026-01-01T00:00:00Z']),
        '0b9c4bde-2f7e-4d55-9a43-6c8e0c2f1a10',
      ]),
    ).toString('base64url');
    cases.push({ name: 'cursor out of range', method: 'GET', path: `/api/leads?cursor=${farCursor}`, field: 'cursor' });
    cases.push({ name: 'array as lead', method: 'POST', path: '/api/leads', body: JSON.stringify([validLead()]), field: '(body)' });
    cases.push({ name: 'empty batch', method: 'POST', path: '/api/events', body: '[]', field: '(body)' });
    cases.push({
      name: 'wrong media type',
      method: 'POST',
      path: '/api/leads',
      body: 'email=a@b.co',
      contentType: 'application/x-www-form-urlencoded',
      field: 'Content-Type',
    });
    cases.push({
      name: 'body says gzip but is not',
      method: 'POST',
      path: '/api/leads',
      body: JSON.stringify(validLead()),
      encoding: pick(['gzip', 'deflate', 'br']),
      field: '(body)',
    });
    cases.push({
      name: 'unknown content encoding',
      method: 'POST',
      path: '/api/leads',
      body: JSON.stringify(validLead()),
      encoding: 'zstd-ish',
      field: 'Content-Type',
    });
  }
  return cases;
}

let t: TestApp;
let server: http.Server;
let baseUrl: string;
beforeAll(async () => {
  t = await createTestApp();
  server = http.createServer(t.app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await t.close();
});

describe('a barrage of malformed requests', () => {
  it('gets a 4xx naming the field for every request, never a 5xx, and the server stays up', async () => {
    const cases = buildCases();
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    const concurrency = 8;
    for (let start = 0; start < cases.length; start += concurrency) {
      await Promise.all(
        cases.slice(start, start + concurrency).map(async (testCase) => {
          const res = await fetch(`${baseUrl}${testCase.path}`, {
            method: testCase.method,
            headers: {
              Authorization: t.auth.Authorization,
              ...(testCase.body !== undefined ? { 'Content-Type': testCase.contentType ?? 'application/json' } : {}),
              ...(testCase.encoding ? { 'Content-Encoding': testCase.encoding } : {}),
            },
            body: testCase.body,
          });
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
          const text = await res.text();
          const describe = `${testCase.name} ${testCase.method} ${testCase.path.slice(0, 80)} -> ${res.status} ${text.slice(0, 200)}`;
          if (res.status < 400 || res.status >= 500) {
            failures.push(describe);
            return;
          }
          const body = JSON.parse(text) as { error?: { code?: string; details?: Array<{ field?: string }> | null } };
          if (!body.error?.code) failures.push(`no error code: ${describe}`);
          if (testCase.field !== null) {
            const fields = (body.error?.details ?? []).map((detail) => detail.field ?? '');
            const named = fields.some((field) => field === testCase.field || field.startsWith(`${testCase.field}.`) || field.startsWith(`${testCase.field}[`));
            if (!named) failures.push(`field ${testCase.field} not named: ${describe}`);
          }
        }),
      );
    }
    expect(failures).toEqual([]);
    expect([...statuses.keys()].every((status) => status >= 400 && status < 500)).toBe(true);
    const health = await fetch(`${baseUrl}/health`);
    expect(health.status).toBe(200);
  });
});
