import { createEmailDelivery, type EmailDelivery } from '../../src/sends/email-delivery.js';
import { deliverOne, startDeliverySetup, type DeliverySetup } from '../helpers/delivery-setup.js';
import type { TestApp } from '../helpers/test-app.js';

/*
 * Consent, double opt-in, a pause and a left topic are checked when a marketing email is sent,
 * through the real delivery path: the email does not reach SMTP, the ledger row is `skipped` with
 * the reason, and a transactional template still goes.
 */

let setup: DeliverySetup;
let t: TestApp;
let delivery: EmailDelivery;

beforeAll(async () => {
  setup = await startDeliverySetup();
  t = setup.t;
  const { leads, events, suppression, tracking, unsubscribeSigner } = t.services;
  delivery = createEmailDelivery({
    db: t.database.db,
    leads,
    events,
    suppression,
    templates: setup.templates,
    tracking,
    transport: setup.transport,
    unsubscribeSigner,
    worker: 'test-worker',
    settings: {
      publicUrl: 'https://baton.test',
      mailFrom: 'Acme <hello@acme.example>',
      company: { name: 'Acme', postalAddress: '1 Main Street, Springfield' },
    },
    topicOf: (sequenceId) => (sequenceId === 'b2b-nurture' ? 'product-news' : null),
  });
});
afterAll(() => setup.close());

async function enroll(lead: Record<string, unknown>, sequenceId = 'b2b-nurture'): Promise<{ leadId: string; enrollmentId: string }> {
  const created = await t.api
    .post('/api/leads')
    .set(t.auth)
    .send({ firstName: 'Ada', company: 'Initech', ...lead });
  expect(created.status).toBe(201);
  const row = await t.database.db
    .insertInto('enrollments')
    .values({ lead_id: created.body.id, sequence_id: sequenceId, sequence_version: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { leadId: created.body.id, enrollmentId: row.id };
}
const step = (ids: { leadId: string; enrollmentId: string }, template = 'welcome', sequenceId = 'b2b-nurture') => ({
  ...ids,
  sequence: { id: sequenceId, name: 'Nurture' },
  stepId: 'welcome',
  template,
});
const ledger = (enrollmentId: string) =>
  t.database.db.selectFrom('sends').select(['status', 'outcome', 'handed_at']).where('enrollment_id', '=', enrollmentId).execute();
const caught = async (to: string) =>
  (
    await t.database.db
      .selectFrom('dev_mail')
      .select('id')
      .where((eb) => eb.fn('array_to_string', ['envelope_to', eb.val(',')]), '=', to)
      .execute()
  ).length;
const at = '2026-11-01T10:00:00Z';

describe('consent at send time', () => {
  it.each([
    { what: 'withdrawn consent', consent: { status: 'withdrawn', source: 'support ticket', at }, reason: 'consent_withdrawn', outcome: 'consent withdrawn' },
    { what: 'denied consent', consent: { status: 'denied', source: 'signup form', at }, reason: 'consent_denied', outcome: 'consent denied' },
  ])('does not send a marketing email to a lead with $what, and the ledger says why', async ({ consent, reason, outcome }) => {
    const email = `${reason}@example.com`;
    const ids = await enroll({ email, consent });
    expect(await deliverOne(delivery, step(ids))).toEqual({ kind: 'skipped', reason });
    expect(await ledger(ids.enrollmentId)).toEqual([{ status: 'skipped', outcome, handed_at: null }]);
    expect(await caught(email)).toBe(0);
  });

  it('still sends a transactional template to a lead whose consent is withdrawn', async () => {
    const ids = await enroll({ email: 'receipt@example.com', consent: { status: 'withdrawn', source: 'support ticket', at } });
    // The fixture's handoff-briefing template is transactional (category: transactional).
    expect((await deliverOne(delivery, step(ids, 'handoff-briefing'))).kind).toBe('sent');
    expect(await caught('receipt@example.com')).toBe(1);
  });

  it('holds marketing email back until a double opt-in is confirmed', async () => {
    const ids = await enroll({ email: 'pending@example.com' });
    const request = await t.database.db
      .insertInto('opt_in_requests')
      .values({ lead_id: ids.leadId, form_id: 'newsletter', wording_version: 'nl-1', wording: 'Send me the newsletter' })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect(await deliverOne(delivery, step(ids))).toEqual({ kind: 'skipped', reason: 'opt_in_unconfirmed' });
    expect(await ledger(ids.enrollmentId)).toEqual([{ status: 'skipped', outcome: 'double opt-in not confirmed', handed_at: null }]);

    await t.database.db.updateTable('opt_in_requests').set({ confirmed_at: new Date() }).where('id', '=', request.id).execute();
    const again = await t.database.db
      .insertInto('enrollments')
      .values({ lead_id: ids.leadId, sequence_id: 'other', sequence_version: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect((await deliverOne(delivery, step({ leadId: ids.leadId, enrollmentId: again.id }, 'welcome', 'other'))).kind).toBe('sent');
  });

  it('does not hold back a lead whose consent was granted otherwise when a new opt-in is pending', async () => {
    const ids = await enroll({ email: 'granted@example.com', consent: { status: 'granted', source: 'import', at } });
    await t.database.db
      .insertInto('opt_in_requests')
      .values({ lead_id: ids.leadId, form_id: 'newsletter', wording_version: 'nl-1', wording: 'Send me the newsletter' })
      .execute();
    expect((await deliverOne(delivery, step(ids))).kind).toBe('sent');
  });

  it('skips a paused lead until the pause ends, and a left topic only for sequences of that topic', async () => {
    const paused = await enroll({ email: 'paused@example.com' });
    await t.database.db
      .insertInto('lead_preferences')
      .values({ lead_id: paused.leadId, paused_until: new Date('2099-01-01T00:00:00Z') })
      .execute();
    expect(await deliverOne(delivery, step(paused))).toEqual({ kind: 'skipped', reason: 'paused' });
    expect(await ledger(paused.enrollmentId)).toEqual([{ status: 'skipped', outcome: 'email paused until 2099-01-01T00:00:00.000Z', handed_at: null }]);

    const left = await enroll({ email: 'left@example.com' });
    await t.database.db
      .insertInto('lead_preferences')
      .values({ lead_id: left.leadId, left_topics: ['product-news'] })
      .execute();
    expect(await deliverOne(delivery, step(left))).toEqual({ kind: 'skipped', reason: 'topic_left' });
    expect(await ledger(left.enrollmentId)).toEqual([{ status: 'skipped', outcome: 'left topic product-news', handed_at: null }]);
    const other = await t.database.db
      .insertInto('enrollments')
      .values({ lead_id: left.leadId, sequence_id: 'other', sequence_version: 1 })
      .returning('id')
      .executeTakeFirstOrThrow();
    expect((await deliverOne(delivery, step({ leadId: left.leadId, enrollmentId: other.id }, 'welcome', 'other'))).kind).toBe('sent');
  });
});
