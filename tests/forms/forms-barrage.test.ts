import { startFormsApp, type FormsApp } from '../helpers/forms-app.js';

/*
 * 1,000 malformed form calls: never a 5xx, and nothing about any stored lead in any answer.
 */

let f: FormsApp;
beforeAll(async () => {
  f = await startFormsApp();
  await f.t.api.post('/api/leads').set(f.t.auth).send({ email: 'known.secret@example.com', firstName: 'Sekret', company: 'Hidden Corp' }).expect(201);
});
afterAll(() => f.close());

const BODIES: Array<[string, string]> = [
  ['application/x-www-form-urlencoded', 'email=known.secret%40example.com'],
  ['application/x-www-form-urlencoded', 'email=%ZZ&first_name=%'],
  ['application/x-www-form-urlencoded', 'email[]=a&email[]=b&consent=on'],
  ['application/x-www-form-urlencoded', `email=${'a'.repeat(30_000)}@example.com`],
  ['application/x-www-form-urlencoded', 'baton_started=forged.token&email=known.secret%40example.com&first_name=X&company=Y'],
  ['application/x-www-form-urlencoded', '&&&===&'],
  ['application/json', '{"email": "known.secret@example.com", "first_name": {"$gt": ""}}'],
  ['application/json', '{"email": '],
  ['application/json', '[1,2,3]'],
  ['application/json', 'null'],
  ['application/json', '{"__proto__": {"polluted": true}, "email": "x@example.com"}'],
  ['text/plain', 'email=known.secret@example.com'],
  ['multipart/form-data; boundary=xyz', '--xyz\r\nContent-Disposition: form-data; name="email"\r\n\r\nknown.secret@example.com\r\n--xyz--'],
  ['application/x-www-form-urlencoded', 'consent=on&homepage=&baton_visitor=' + 'v'.repeat(500)],
];
const PATHS = ['/forms/demo', '/forms/newsletter', '/forms/contact-sales', '/forms/nope', '/forms/%E0%A4%A', '/forms/confirm/abc', '/forms/confirm/eyJ9.AAAA'];

describe('1,000 malformed form calls', () => {
  it('get no 5xx, and no answer holds anything about a stored lead', async () => {
    const statuses = new Map<number, number>();
    for (let i = 0; i < 1000; i++) {
      const [type, body] = BODIES[i % BODIES.length] ?? ['text/plain', ''];
      const path = PATHS[i % PATHS.length] ?? '/forms/demo';
      const res = await f.api
        .post(path)
        .set('X-Forwarded-For', `192.0.2.${i % 20}`)
        .set('Origin', i % 7 === 0 ? 'https://evil.example' : 'https://baton.test')
        .set('Content-Type', type)
        .send(body);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      expect(res.status).toBeLessThan(500);
      expect(res.text).not.toMatch(/Sekret|Hidden Corp/);
    }
    expect([...statuses.keys()].filter((status) => status >= 500)).toEqual([]);
    // The barrage hits every kind of refusal: bad input, unknown form, foreign origin, rate limit.
    expect([...statuses.keys()]).toEqual(expect.arrayContaining([400, 403, 404, 429]));
    expect((await f.t.database.pool.query("select count(*)::int as n from leads where email <> 'known.secret@example.com'")).rows).toEqual([{ n: 0 }]);
  }, 240_000);
});
