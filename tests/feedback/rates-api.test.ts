import request from 'supertest';
import { createApp } from '../../src/app.js';
import { recordDeliveryFeedback } from '../../src/feedback/record-feedback.js';
import { createLogger } from '../../src/platform/logger.js';
import type { SequenceRunner } from '../../src/enrollments/sequence-runner.js';
import { enrollLead, sentSend } from '../helpers/feedback-setup.js';
import { createTestApp, TEST_API_KEY, type TestApp } from '../helpers/test-app.js';

/*
 * GET /api/deliverability: rates per sequence, step and recipient domain from real sends and the
 * feedback the one recorder wrote, with the Gmail/Yahoo complaint warning.
 */

let t: TestApp;
let api: ReturnType<typeof request>;

beforeAll(async () => {
  t = await createTestApp();
  // The rates route needs only the database; no sequence is loaded in this test.
  const runner = { sequences: () => [] } as unknown as SequenceRunner;
  api = request(
    createApp({
      apiKey: TEST_API_KEY,
      companyName: 'Acme',
      logger: createLogger('silent'),
      services: t.services,
      pingDatabase: t.database.ping,
      sequences: { runner, db: t.database.db },
    }),
  );
  const deps = { db: t.database.db, suppression: t.services.suppression, softBounceLimit: 3 };
  // 200 sends: gmail.com gets a hard bounce and a complaint; example.org nothing.
  for (let i = 0; i < 200; i++) {
    const domain = i % 2 === 0 ? 'gmail.com' : 'example.org';
    const ids = await enrollLead(t, `reader${i}@${domain}`);
    const sendId = await sentSend(t, ids, i < 100 ? 'welcome' : 'value-1');
    await t.database.db.updateTable('sends').set({ handed_at: new Date() }).where('id', '=', sendId).execute();
    if (i === 0) await recordDeliveryFeedback(deps, { sendId, kind: 'hard_bounce', status: '5.1.1', diagnostic: 'user unknown', source: 'dsn' }, new Date());
    if (i === 2) await recordDeliveryFeedback(deps, { sendId, kind: 'complaint', status: null, diagnostic: 'abuse', source: 'arf' }, new Date());
    if (i === 2) await recordDeliveryFeedback(deps, { sendId, kind: 'complaint', status: null, diagnostic: 'abuse', source: 'sendgrid' }, new Date());
  }
}, 300_000);
afterAll(() => t.close());

it('reports rates per sequence, step and domain, and warns above the complaint threshold', async () => {
  const response = await api.get('/api/deliverability').set('Authorization', `Bearer ${TEST_API_KEY}`);
  expect(response.status).toBe(200);
  expect(response.body.overall).toMatchObject({ handed: 200, sent: 200, hardBounces: 1, complaints: 1, bounceRate: 0.005, complaintRate: 0.005 });
  expect(response.body.overall.warnings.map((warning: { kind: string }) => warning.kind)).toEqual(['complaints_over_limit']);
  expect(response.body.steps).toEqual([
    expect.objectContaining({ sequenceId: 'b2b-nurture', stepId: 'value-1', handed: 100, hardBounces: 0, complaints: 0, warnings: [] }),
    expect.objectContaining({ sequenceId: 'b2b-nurture', stepId: 'welcome', handed: 100, hardBounces: 1, complaints: 1, complaintRate: 0.01 }),
  ]);
  expect(response.body.domains).toEqual([
    expect.objectContaining({ domain: 'example.org', handed: 100, hardBounces: 0, complaints: 0, warnings: [] }),
    expect.objectContaining({ domain: 'gmail.com', handed: 100, hardBounces: 1, complaints: 1, bounceRate: 0.01, complaintRate: 0.01 }),
  ]);
  expect(response.body.thresholds).toEqual({ complaintRate: 0.003, complaintRateTarget: 0.001, bounceRate: 0.02 });
});

it('refuses a bad window with a message naming the field', async () => {
  const response = await api.get('/api/deliverability?days=0').set('Authorization', `Bearer ${TEST_API_KEY}`);
  expect(response.status).toBe(400);
  expect(response.body.error.details).toEqual([expect.objectContaining({ field: 'days', location: 'query' })]);
});
