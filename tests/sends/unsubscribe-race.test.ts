import { createMailTransport, type MailTransport } from '../../src/mail/mail-transport.js';
import { markHandedOver } from '../../src/sends/sends.repository.js';
import { unsubscribeUrl } from '../../src/subscriptions/unsubscribe-token.js';
import { startDeliverySetup, type DeliverySetup } from '../helpers/delivery-setup.js';
import { startSlowSmtpServer, type SlowSmtpServer } from '../helpers/smtp-servers.js';
import type { TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/until.js';

/*
 * Unsubscribes arriving while a batch is on its way to a slow SMTP server (250 ms per message, as
 * a distant relay answers): once the person has seen "You are unsubscribed", no email to them
 * reaches the server. The opt-out is checked as each group of claims is handed to SMTP, under
 * the lead's row lock, and the unsubscribe answers once what was already handed over is answered.
 */

const LEADS = 60;
const SMTP_DELAY_MS = 250;

let setup: DeliverySetup;
let t: TestApp;
let slow: SlowSmtpServer;
let transport: MailTransport;

beforeAll(async () => {
  setup = await startDeliverySetup();
  t = setup.t;
  slow = await startSlowSmtpServer(SMTP_DELAY_MS);
  // As many connections as a worker has (SMTP_CONNECTIONS in src/baton.ts).
  transport = createMailTransport(slow.url, null, 10);
});
afterAll(async () => {
  transport.close();
  await slow.close();
  await setup.close();
});

async function enroll(email: string): Promise<{ leadId: string; enrollmentId: string }> {
  const lead = await t.api.post('/api/leads').set(t.auth).send({ email, firstName: 'Ada' }).expect(201);
  const row = await t.database.db
    .insertInto('enrollments')
    .values({ lead_id: lead.body.id, sequence_id: 'b2b-nurture', sequence_version: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { leadId: lead.body.id, enrollmentId: row.id };
}

const step = (ids: { leadId: string; enrollmentId: string }) => ({
  ...ids,
  sequence: { id: 'b2b-nurture', name: 'B2B nurture' },
  stepId: 'welcome',
  template: 'welcome',
});

describe('an unsubscribe racing a batch on its way to SMTP', () => {
  it('lets no email reach the SMTP server after the unsubscribe has answered, and records the withheld ones as skipped', async () => {
    const emails = Array.from({ length: LEADS }, (_, index) => `race-${String(index).padStart(2, '0')}@example.com`);
    const enrolled: Array<{ leadId: string; enrollmentId: string }> = [];
    for (const email of emails) enrolled.push(await enroll(email));
    const delivery = setup.deliveryWith(transport, 'race-worker');
    const batch = delivery.deliverMany(enrolled.map(step));

    // Mid-batch: two groups are at the server, the rest still to go.
    await until(
      async () => slow.recipients.length,
      (count) => count >= 10,
      30_000,
    );
    const leaving = enrolled.slice(LEADS / 2).map((ids, offset) => ({ ...ids, email: emails[LEADS / 2 + offset] ?? '' }));
    const answered = await Promise.all(
      leaving.map(async (lead) => {
        const path = new URL(unsubscribeUrl('https://baton.test', t.services.unsubscribeSigner, { leadId: lead.leadId, sendId: null })).pathname;
        const res = await t.api.post(path).type('form').send('List-Unsubscribe=One-Click');
        expect(res.text).toContain('You are unsubscribed');
        return { ...lead, at: Date.now() };
      }),
    );
    const outcomes = await batch;

    const late = answered.flatMap((lead) =>
      slow.recipients
        .filter((recipient) => recipient.to === lead.email && recipient.at > lead.at)
        .map((recipient) => ({ to: recipient.to, msAfterAnswer: recipient.at - lead.at })),
    );
    expect(late).toEqual([]);

    // The race was real: some of the leaving leads got their email before they left, and the
    // rest were withheld at hand-over, each recorded with its reason.
    const leavingIds = new Set(leaving.map((lead) => lead.enrollmentId));
    const kinds = (keep: (enrollmentId: string) => boolean) =>
      outcomes.filter((_, index) => keep(enrolled[index]?.enrollmentId ?? '')).map((outcome) => outcome.kind);
    expect(kinds((id) => !leavingIds.has(id))).toEqual(Array.from({ length: LEADS / 2 }, () => 'sent'));
    const leavingKinds = kinds((id) => leavingIds.has(id));
    expect(leavingKinds.filter((kind) => kind === 'skipped').length).toBeGreaterThan(0);
    expect(leavingKinds.filter((kind) => kind !== 'skipped' && kind !== 'sent')).toEqual([]);
    const ledger = await t.database.db.selectFrom('sends').select(['enrollment_id', 'status', 'outcome', 'handed_at']).execute();
    const skipped = ledger.filter((row) => row.status === 'skipped');
    expect(skipped.length).toBe(leavingKinds.filter((kind) => kind === 'skipped').length);
    expect(skipped.every((row) => leavingIds.has(row.enrollment_id) && row.outcome === 'unsubscribed' && row.handed_at === null)).toBe(true);
    // What the server received and what the ledger says was sent are the same emails.
    expect(slow.recipients.map((recipient) => recipient.to).sort()).toEqual(
      ledger
        .filter((row) => row.status === 'sent')
        .map((row) => emails[enrolled.findIndex((ids) => ids.enrollmentId === row.enrollment_id)])
        .sort(),
    );
  }, 60_000);

  it('withholds at hand-over a claim whose address was suppressed after the batch read it', async () => {
    const ids = await enroll('bounced-elsewhere@example.com');
    const claim = await t.database.db
      .insertInto('sends')
      .values({
        enrollment_id: ids.enrollmentId,
        step_id: 'welcome',
        lead_id: ids.leadId,
        template: 'welcome',
        message_id: `<${ids.enrollmentId}@baton.test>`,
        claimed_by: 'race-worker',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await t.services.suppression.suppress(t.database.db, 'bounced-elsewhere@example.com', 'hard_bounce');
    const verdicts = await markHandedOver(
      t.database.db,
      [{ id: claim.id, leadId: ids.leadId, emailHash: t.services.suppression.hash('Bounced-Elsewhere@example.com') }],
      'race-worker',
    );
    expect(verdicts).toEqual(new Map([[claim.id, 'suppressed']]));
    expect(await t.database.db.selectFrom('sends').select(['status', 'outcome', 'handed_at']).where('id', '=', claim.id).executeTakeFirst()).toEqual({
      status: 'skipped',
      outcome: 'suppressed',
      handed_at: null,
    });
  });
});
