import { SMTPServer } from 'smtp-server';
import type { AddressInfo } from 'node:net';
import { createSmtpFeedback } from '../../src/feedback/smtp-feedback.js';
import { createMailTransport } from '../../src/mail/mail-transport.js';
import { createEmailDelivery, type DeliveryOutcome } from '../../src/sends/email-delivery.js';
import { loadTemplates, type TemplateStore } from '../../src/templates/template-store.js';
import { enrollLead, isSuppressed } from '../helpers/feedback-setup.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/*
 * The feedback policy in the send path, over a real SMTP server that answers per recipient:
 * soft bounces retried on the configured schedule and then failed, N soft-bounced sends in a row
 * suppress, a hard bounce suppresses and opts out through the one recorder (one event).
 */

let t: TestApp;
let templates: TemplateStore;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  closeTimeout: 1000,
  onRcptTo(address, _session, callback) {
    if (address.address.startsWith('full')) return callback(Object.assign(new Error('4.2.2 Mailbox full'), { responseCode: 452 }));
    if (address.address.startsWith('gone')) return callback(Object.assign(new Error('5.1.1 User unknown'), { responseCode: 550 }));
    return callback();
  },
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => callback());
  },
});

beforeAll(async () => {
  t = await createTestApp();
  const loaded = await loadTemplates(FIXTURE_CONTENT.templates);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  templates = loaded.store;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t.close();
});

function delivery(softBounceRetriesMs: number[], softBounceLimit: number) {
  const transport = createMailTransport(`smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, null);
  const { leads, events, suppression, tracking, unsubscribeSigner } = t.services;
  return {
    transport,
    delivery: createEmailDelivery({
      db: t.database.db,
      leads,
      events,
      suppression,
      templates,
      tracking,
      transport,
      unsubscribeSigner,
      worker: 'policy-test',
      settings: { publicUrl: 'https://baton.test', mailFrom: 'Acme <hello@acme.example>', company: { name: 'Acme', postalAddress: '1 Main Street' } },
      smtpFeedback: createSmtpFeedback({ db: t.database.db, suppression, softBounceLimit, softBounceRetriesMs }),
    }),
  };
}
const input = (ids: { leadId: string; enrollmentId: string }, stepId: string) => ({
  ...ids,
  sequence: { id: 'b2b-nurture', name: 'B2B nurture' },
  stepId,
  template: 'welcome',
});
const eventsOf = (leadId: string, type: string) =>
  t.database.db.selectFrom('events').select('properties').where('lead_id', '=', leadId).where('type', '=', type).execute();

it('retries a soft bounce on the schedule (15 min, 1 h, 4 h), then fails the send and records it', async () => {
  const { delivery: d, transport } = delivery([15 * 60_000, 3_600_000, 4 * 3_600_000], 3);
  const ids = await enrollLead(t, 'full@example.org');
  const waits: Array<number | null> = [];
  let last: DeliveryOutcome | undefined;
  for (let attempt = 0; attempt < 4; attempt++) {
    const before = Date.now();
    [last] = await d.deliverMany([input(ids, 'welcome')]);
    waits.push(last?.kind === 'retry_later' && last.retryAt ? Math.round((last.retryAt.getTime() - before) / 60_000) : null);
  }
  expect(waits).toEqual([15, 60, 240, null]);
  expect(last?.kind).toBe('failed');
  expect(await eventsOf(ids.leadId, 'email_bounced')).toEqual([
    { properties: expect.objectContaining({ bounce: 'soft', status: '4.2.2', source: 'smtp', stepId: 'welcome' }) },
  ]);
  expect(await isSuppressed(t, 'full@example.org')).toBe(false);
  transport.close();
});

it('suppresses the address once N sends in a row soft-bounced for good', async () => {
  const { delivery: d, transport } = delivery([], 2);
  const ids = await enrollLead(t, 'full-twice@example.org');
  expect((await d.deliverMany([input(ids, 'welcome')]))[0]?.kind).toBe('failed');
  expect(await isSuppressed(t, 'full-twice@example.org')).toBe(false);
  expect((await d.deliverMany([input(ids, 'value-1')]))[0]?.kind).toBe('failed');
  expect(await isSuppressed(t, 'full-twice@example.org')).toBe(true);
  transport.close();
});

it('records a hard bounce once, suppresses and opts the lead out', async () => {
  const { delivery: d, transport } = delivery([60_000], 3);
  const ids = await enrollLead(t, 'gone@example.org');
  expect((await d.deliverMany([input(ids, 'welcome')]))[0]?.kind).toBe('bounced');
  expect(await eventsOf(ids.leadId, 'email_bounced')).toEqual([{ properties: expect.objectContaining({ bounce: 'hard', status: '5.1.1', source: 'smtp' }) }]);
  expect(await isSuppressed(t, 'gone@example.org')).toBe(true);
  expect(await eventsOf(ids.leadId, 'unsubscribed')).toEqual([{ properties: expect.objectContaining({ source: 'hard_bounce' }) }]);
  transport.close();
});
