import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createDomainGate } from '../../src/feedback/domain-gate.js';
import { createSmtpFeedback } from '../../src/feedback/smtp-feedback.js';
import { createMailTransport, type MailTransport } from '../../src/mail/mail-transport.js';
import { createEmailDelivery } from '../../src/sends/email-delivery.js';
import { loadTemplates, type TemplateStore } from '../../src/templates/template-store.js';
import { enrollLead } from '../helpers/feedback-setup.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/until.js';

/*
 * Per-domain limits held across workers: two deliveries (as two workers) over one database share
 * gmail.com's budget; a 421 4.7.28 from a domain cuts its budget for every worker.
 */

let t: TestApp;
let templates: TemplateStore;
const transports: MailTransport[] = [];
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  closeTimeout: 1000,
  onRcptTo(address, _session, callback) {
    if (address.address.startsWith('busy'))
      return callback(Object.assign(new Error('4.7.28 Our system has detected an unusual rate of unsolicited mail'), { responseCode: 421 }));
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
  for (const transport of transports) transport.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await t.close();
});

function worker(name: string, limits: string) {
  const transport = createMailTransport(`smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`, null);
  transports.push(transport);
  const { leads, events, suppression, tracking, unsubscribeSigner } = t.services;
  const domainGate = createDomainGate(
    new Map(
      limits.split(',').map((entry) => {
        const [domain = '', count = '0'] = entry.split(/[:/]/);
        return [domain, { count: Number(count), windowMs: 60_000 }] as const;
      }),
    ),
  );
  return createEmailDelivery({
    db: t.database.db,
    leads,
    events,
    suppression,
    templates,
    tracking,
    transport,
    unsubscribeSigner,
    worker: name,
    domainGate,
    settings: { publicUrl: 'https://baton.test', mailFrom: 'Acme <hello@acme.example>', company: { name: 'Acme', postalAddress: '1 Main Street' } },
    smtpFeedback: createSmtpFeedback({ db: t.database.db, suppression, softBounceLimit: 3, softBounceRetriesMs: [60_000], domainGate }),
  });
}
const input = (ids: { leadId: string; enrollmentId: string }) => ({
  ...ids,
  sequence: { id: 'b2b-nurture', name: 'B2B nurture' },
  stepId: 'welcome',
  template: 'welcome',
});
/** Per-minute windows: wait until the minute has room for the test, so it never straddles two windows. */
const awayFromMinuteEnd = () =>
  until(
    async () => new Date().getUTCSeconds(),
    (seconds) => seconds < 45,
    20_000,
  );

it('shares one domain budget between two workers, and leaves other domains alone', async () => {
  await awayFromMinuteEnd();
  const [a, b] = [worker('worker-a', 'gmail.com:3/m'), worker('worker-b', 'gmail.com:3/m')];
  const batch = async (prefix: string) => Promise.all(Array.from({ length: 3 }, async (_v, i) => input(await enrollLead(t, `${prefix}${i}@gmail.com`))));
  const others = await Promise.all(Array.from({ length: 2 }, async (_v, i) => input(await enrollLead(t, `other${i}@example.org`))));
  const [first, second] = await Promise.all([a.deliverMany([...(await batch('a')), ...others]), b.deliverMany(await batch('b'))]);
  const outcomes = [...first, ...second];
  expect(outcomes.filter((outcome) => outcome.kind === 'sent')).toHaveLength(3 + 2);
  const held = outcomes.filter((outcome) => outcome.kind === 'held');
  expect(held).toHaveLength(3);
  const nextMinute = Math.ceil(Date.now() / 60_000) * 60_000;
  for (const outcome of held) expect(outcome.kind === 'held' && outcome.until.getTime()).toBe(nextMinute);
  // The example.org leads went at once.
  expect(first.slice(3).map((outcome) => outcome.kind)).toEqual(['sent', 'sent']);
});

it('slows a domain that answered 421 4.7.28, for every worker', async () => {
  await awayFromMinuteEnd();
  const a = worker('worker-c', 'slow.example:8/m');
  const b = worker('worker-d', 'slow.example:8/m');
  const [busy] = await a.deliverMany([input(await enrollLead(t, 'busy@slow.example'))]);
  expect(busy?.kind).toBe('retry_later');
  // 8 per minute cut to 2 while slowed, one of which the throttled attempt used.
  const outcomes = await b.deliverMany(await Promise.all(Array.from({ length: 4 }, async (_v, i) => input(await enrollLead(t, `calm${i}@slow.example`)))));
  expect(outcomes.map((outcome) => outcome.kind)).toEqual(['sent', 'held', 'held', 'held']);
});
