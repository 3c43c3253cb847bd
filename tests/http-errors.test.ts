import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createTestApp, type TestApp } from './helpers/test-app.js';

const logLines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk, _encoding, done) {
      logLines.push(JSON.parse(String(chunk)));
      done();
    },
  }),
);

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ logger });
});
afterAll(async () => {
  await t.close();
});

describe('error responses', () => {
  it('answers malformed JSON with 400 malformed_json', async () => {
    const res = await t.api.post('/api/leads').set(t.auth).set('Content-Type', 'application/json').send('{"email": "a@b.co",');
    expect(res.status).toBe(400);
    expect(res.body).toEqual({
      error: {
        code: 'malformed_json',
        message: 'The request body is not valid JSON',
        details: [{ field: '(body)', location: 'body', message: 'body must be valid JSON' }],
      },
    });
  });

  it('answers an oversized body with 413', async () => {
    const res = await t.api
      .post('/api/leads')
      .set(t.auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: 'a@b.co', traits: { blob: 'x'.repeat(3 * 1024 * 1024) } }));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('answers a 1 MB string field with 400 naming the field', async () => {
    const res = await t.api
      .post('/api/leads')
      .set(t.auth)
      .send({ email: 'a@b.co', firstName: 'x'.repeat(1024 * 1024) });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0]).toMatchObject({ field: 'firstName', message: 'firstName length must be less than or equal to 200 characters long' });
  });

  it('caps the problems it lists, so a body of unknown fields cannot make a larger error (issue 16)', async () => {
    // ~1.2 MB of unknown fields: every one is a problem, but the answer lists only the first 20.
    const body: Record<string, string> = { email: 'a@b.co' };
    for (let i = 0; i < 60_000; i += 1) body[`unknown_field_${i}`] = 'x';
    const sent = JSON.stringify(body);
    expect(sent.length).toBeGreaterThan(1_200_000);
    const res = await t.api.post('/api/leads').set(t.auth).set('Content-Type', 'application/json').send(sent);
    expect(res.status).toBe(400);
    expect(res.text.length).toBeLessThan(10_000);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toHaveLength(20);
    expect(res.body.error.details[0]).toEqual({ field: 'unknown_field_0', location: 'body', message: 'unknown_field_0 is not allowed' });
    expect(res.body.error.message).toMatch(/^Invalid request: unknown_field_0 is not allowed; .*unknown_field_19 is not allowed; and 59980 more problems$/);
  });

  it('caps the problems of an event batch whose events carry unknown fields', async () => {
    const batch = Array.from({ length: 500 }, () =>
      Object.fromEntries([['email', 'a@b.co'], ['type', 'page_view'], ...Array.from({ length: 100 }, (_, k) => [`extra_${k}`, k])]),
    );
    const res = await t.api.post('/api/events').set(t.auth).send(batch);
    expect(res.status).toBe(400);
    expect(res.text.length).toBeLessThan(10_000);
    expect(res.body.error.details).toHaveLength(20);
    expect(res.body.error.details[0]).toEqual({ field: '[0].extra_0', location: 'body', message: '[0].extra_0 is not allowed' });
    expect(res.body.error.message).toMatch(/; and 49980 more problems$/);
  });

  it('shortens a huge field name in the error', async () => {
    const name = `k${'y'.repeat(500_000)}`;
    const res = await t.api
      .post('/api/leads')
      .set(t.auth)
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ email: 'a@b.co', [name]: 1 }));
    expect(res.status).toBe(400);
    expect(res.text.length).toBeLessThan(2_000);
    expect(res.body.error.details).toEqual([{ field: `k${'y'.repeat(99)}…`, location: 'body', message: `k${'y'.repeat(99)}… is not allowed` }]);
  });

  it('answers a body in another media type with 415', async () => {
    const res = await t.api.post('/api/leads').set(t.auth).set('Content-Type', 'text/plain').send('email=a@b.co');
    expect(res.status).toBe(415);
    expect(res.body.error.details[0].field).toBe('Content-Type');
  });

  it('answers a JSON body that is not an object with 400', async () => {
    const res = await t.api.post('/api/leads').set(t.auth).set('Content-Type', 'application/json').send('"just a string"');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'malformed_json', details: [{ field: '(body)' }] });
  });

  it('answers unknown routes with 404 JSON', async () => {
    const res = await t.api.get('/api/nothing-here').set(t.auth);
    expect(res.status).toBe(404);
    expect(res.body.error).toMatchObject({ code: 'route_not_found', message: 'No route for GET /api/nothing-here' });
    const outside = await t.api.delete('/somewhere');
    expect(outside.status).toBe(404);
    expect(outside.body.error.code).toBe('route_not_found');
  });

  it('answers 500 with an error id that the log carries too, and no stack trace', async () => {
    // Dropping the leads table makes the next query fail inside the service: a genuine unexpected error.
    await t.database.pool.query('alter table leads rename to leads_away');
    try {
      const res = await t.api.get('/api/leads').set(t.auth);
      expect(res.status).toBe(500);
      expect(res.body.error.code).toBe('internal_error');
      const errorId: string = res.body.error.details.errorId;
      expect(res.body.error.message).toContain(errorId);
      expect(JSON.stringify(res.body)).not.toMatch(/leads_away|relation|at .*\.ts/);
      expect(logLines.find((line) => line.errorId === errorId)).toMatchObject({ level: 50, msg: 'unhandled error', path: '/api/leads' });
    } finally {
      await t.database.pool.query('alter table leads_away rename to leads');
    }
  });

  it('answers 503 on /health and on API calls when the database does not answer', async () => {
    const unhealthy = await createTestApp();
    await unhealthy.database.pool.end();
    const health = await unhealthy.api.get('/health');
    expect(health.status).toBe(503);
    expect(health.body.status).toBe('unavailable');
    const api = await unhealthy.api.get('/api/leads').set(unhealthy.auth);
    expect(api.status).toBe(503);
    expect(api.body.error.code).toBe('database_unavailable');
    await unhealthy.close().catch(() => undefined);
  });
});
