import { simpleParser } from 'mailparser';
import { startBouncingSmtpServer } from '../helpers/smtp-servers.js';
import { createMailTransport } from '../../src/mail/mail-transport.js';
import type { EmailDelivery } from '../../src/sends/email-delivery.js';
import { claimSends, markHandedOver, markInterruptedSends, recentMarketingSendsOf } from '../../src/sends/sends.repository.js';
import { deliverOne, startDeliverySetup, type DeliverySetup } from '../helpers/delivery-setup.js';
import type { TestApp } from '../helpers/test-app.js';

let setup: DeliverySetup;
let t: TestApp;
let delivery: EmailDelivery;
const deliveryWith = (mail: Parameters<DeliverySetup['deliveryWith']>[0]) => setup.deliveryWith(mail);

async function enroll(email: string, firstName = 'Ada'): Promise<{ leadId: string; enrollmentId: string }> {
  const lead = await t.api.post('/api/leads').set(t.auth).send({ email, firstName, company: 'Initech' });
  const row = await t.database.db
    .insertInto('enrollments')
    .values({ lead_id: lead.body.id, sequence_id: 'b2b-nurture', sequence_version: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { leadId: lead.body.id, enrollmentId: row.id };
}

const step = (ids: { leadId: string; enrollmentId: string }, stepId = 'welcome') => ({
  ...ids,
  sequence: { id: 'b2b-nurture', name: 'B2B nurture' },
  stepId,
  template: 'welcome',
});
const caught = async (to: string) =>
  t.database.db
    .selectFrom('dev_mail')
    .selectAll()
    .where((eb) => eb.fn('lower', [eb.fn('array_to_string', ['envelope_to', eb.val(',')])]), '=', to)
    .execute();

beforeAll(async () => {
  setup = await startDeliverySetup();
  t = setup.t;
  delivery = setup.deliveryWith();
});
afterAll(() => setup.close());

describe('email delivery for a sequence step', () => {
  it('sends a personalised, tracked email with one-click unsubscribe, and records it in the ledger', async () => {
    const ids = await enroll('ada@example.com');
    const outcome = await deliverOne(delivery, step(ids));
    expect(outcome.kind).toBe('sent');
    const [message] = await caught('ada@example.com');
    const mail = await simpleParser(message?.raw ?? '');
    expect(mail.subject).toBe('Welcome, Ada: your pipeline playbook');
    expect(mail.text).toContain('on behalf of Initech');
    expect(mail.html).toMatch(/href="https:\/\/baton\.test\/c\/[^"]+"/);
    expect(mail.html).not.toContain('https://example.com/resources/pipeline-playbook');
    expect(mail.messageId).toBe(`<${ids.enrollmentId}.welcome@acme.example>`);
    // Long header lines are folded; unfold before comparing.
    const header = (name: string) => mail.headerLines.find((line) => line.key === name)?.line.replace(/\r?\n\s+/g, ' ');
    expect(header('list-unsubscribe')).toMatch(/^List-Unsubscribe:\s+<https:\/\/baton\.test\/u\/[^>]+>$/);
    expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
    const ledger = await t.database.db.selectFrom('sends').selectAll().where('enrollment_id', '=', ids.enrollmentId).execute();
    expect(ledger).toEqual([expect.objectContaining({ step_id: 'welcome', status: 'sent', outcome: 'sent', smtp_response: expect.stringMatching(/^250 /) })]);
    const events = await t.api.get(`/api/leads/${ids.leadId}/timeline`).query({ type: 'email_sent' }).set(t.auth);
    expect(events.body.items).toHaveLength(1);
  });

  it("uses the step's own subject and From when the sequence sets them", async () => {
    const ids = await enroll('override@example.com', 'Olga');
    const outcome = await deliverOne(delivery, {
      ...step(ids),
      subject: '{{lead.firstName}}, one more idea for {{lead.company}}',
      from: 'Sales <sales@acme.example>',
    });
    expect(outcome.kind).toBe('sent');
    const mail = await simpleParser((await caught('override@example.com'))[0]?.raw ?? '');
    expect(mail.subject).toBe('Olga, one more idea for Initech');
    expect(mail.from?.value).toEqual([{ name: 'Sales', address: 'sales@acme.example' }]);
  });

  it('never sends the same step twice, even when twenty runs race', async () => {
    const ids = await enroll('racer@example.com');
    const outcomes = await Promise.all(Array.from({ length: 20 }, () => deliverOne(delivery, step(ids))));
    expect(outcomes.filter((outcome) => outcome.kind === 'sent')).toHaveLength(1);
    expect(outcomes.filter((outcome) => outcome.kind === 'already_handled')).toHaveLength(19);
    expect(await caught('racer@example.com')).toHaveLength(1);
    expect((await deliverOne(delivery, step(ids))).kind).toBe('already_handled');
    expect(await caught('racer@example.com')).toHaveLength(1);
  });

  it('checks the opt-out at send time and sends nothing to an unsubscribed lead', async () => {
    const ids = await enroll('quiet@example.com');
    await t.api.post('/api/leads').set(t.auth).send({ email: 'quiet@example.com', unsubscribed: true }).expect(200);
    expect(await deliverOne(delivery, step(ids))).toEqual({ kind: 'skipped', reason: 'unsubscribed' });
    expect(await caught('quiet@example.com')).toHaveLength(0);
  });

  it('suppresses the address after a hard bounce', async () => {
    const rejecting = await startBouncingSmtpServer();
    const bouncing = createMailTransport(rejecting.url, null);
    const ids = await enroll('nobody@example.com');
    expect((await deliverOne(deliveryWith(bouncing), step(ids))).kind).toBe('bounced');
    const again = await t.api.post('/api/leads').set(t.auth).send({ email: 'nobody@example.com' });
    expect(again.status).toBe(409);
    bouncing.close();
    await rejecting.close();
  });

  it('does nothing for a lead erased before its step came up', async () => {
    const ids = await enroll('erased@example.com');
    await t.api.delete(`/api/leads/${ids.leadId}`).set(t.auth).expect(204);
    expect(await deliverOne(delivery, step(ids))).toEqual({ kind: 'skipped', reason: 'lead_erased' });
  });
});

describe('the frequency-cap gate and interrupted sends', () => {
  it('claims nothing and sends nothing while the gate holds the email', async () => {
    const ids = await enroll('gated@example.com');
    const later = new Date(Date.now() + 3_600_000);
    const held = await deliverOne(delivery, step(ids), { gate: async () => [later] });
    expect(held).toEqual({ kind: 'held', until: later });
    expect(await t.database.db.selectFrom('sends').selectAll().where('enrollment_id', '=', ids.enrollmentId).execute()).toEqual([]);
    expect(await caught('gated@example.com')).toEqual([]);
    expect((await deliverOne(delivery, step(ids), { gate: async () => [null] })).kind).toBe('sent');
  });

  it('counts the marketing sends of the leads asked about, in the window', async () => {
    const ids = await enroll('counted@example.com');
    const other = await enroll('counted-other@example.com');
    expect((await deliverOne(delivery, step(ids, 'first'))).kind).toBe('sent');
    const since = new Date(Date.now() - 60_000);
    expect(await recentMarketingSendsOf(t.database.db, [ids.leadId, other.leadId], since)).toEqual([
      expect.objectContaining({ lead_id: ids.leadId, enrollment_id: ids.enrollmentId, step_id: 'first' }),
    ]);
    expect(await recentMarketingSendsOf(t.database.db, [other.leadId], since)).toEqual([]);
    expect(await recentMarketingSendsOf(t.database.db, [ids.leadId], new Date(Date.now() + 1000))).toEqual([]);
  });

  const claimLeftBehind = async (ids: { leadId: string; enrollmentId: string }, handedOver: boolean, ageSeconds = 0) => {
    await t.database.db
      .insertInto('sends')
      .values({
        enrollment_id: ids.enrollmentId,
        step_id: 'welcome',
        lead_id: ids.leadId,
        template: 'welcome',
        message_id: `<${ids.enrollmentId}@baton.test>`,
        claimed_by: 'dead-worker',
      })
      .execute();
    await t.database.pool.query(
      `update sends set claimed_at = now() - make_interval(secs => $2), handed_at = case when $3 then now() end where enrollment_id = $1`,
      [ids.enrollmentId, ageSeconds, handedOver],
    );
  };
  const ledgerRow = async (enrollmentId: string) =>
    t.database.db.selectFrom('sends').selectAll().where('enrollment_id', '=', enrollmentId).executeTakeFirstOrThrow();

  it('marks a claim handed to SMTP by a process that died as unknown, and never sends it again', async () => {
    const ids = await enroll('interrupted@example.com');
    await claimLeftBehind(ids, true);
    expect(await markInterruptedSends(t.database.db, new Date(Date.now() - 60_000))).toBe(0);
    expect(await markInterruptedSends(t.database.db, new Date(Date.now() + 1000))).toBeGreaterThanOrEqual(1);
    expect(await ledgerRow(ids.enrollmentId)).toMatchObject({ status: 'unknown', outcome: 'interrupted' });
    expect(await deliverOne(delivery, step(ids), { takeOverBefore: new Date(Date.now() + 1000) })).toMatchObject({
      kind: 'already_handled',
      status: 'unknown',
    });
    expect(await caught('interrupted@example.com')).toEqual([]);
  });

  it('sends a claim its dead process never handed to SMTP: it did not go out', async () => {
    const ids = await enroll('never-handed@example.com');
    await claimLeftBehind(ids, false);
    expect(await markInterruptedSends(t.database.db, new Date(Date.now() + 1000))).toBeGreaterThanOrEqual(1);
    expect(await ledgerRow(ids.enrollmentId)).toMatchObject({ status: 'failed', outcome: 'not_sent' });
    expect((await deliverOne(delivery, step(ids))).kind).toBe('sent');
    expect(await ledgerRow(ids.enrollmentId)).toMatchObject({ status: 'sent', outcome: 'sent' });
    expect(await caught('never-handed@example.com')).toHaveLength(1);
  });

  it('takes over a stale claim never handed to SMTP, but neither a fresh one nor one handed over', async () => {
    const fresh = await enroll('fresh-claim@example.com');
    await claimLeftBehind(fresh, false, 5);
    const staleHanded = await enroll('stale-handed@example.com');
    await claimLeftBehind(staleHanded, true, 120);
    const staleUnhanded = await enroll('stale-unhanded@example.com');
    await claimLeftBehind(staleUnhanded, false, 120);
    const takeOverBefore = new Date(Date.now() - 60_000);
    const outcomes = await delivery.deliverMany([step(fresh), step(staleHanded), step(staleUnhanded)], { takeOverBefore });
    expect(outcomes.map((outcome) => [outcome.kind, 'status' in outcome ? outcome.status : null])).toEqual([
      ['already_handled', 'claimed'],
      ['already_handled', 'claimed'],
      ['sent', null],
    ]);
    expect(await caught('fresh-claim@example.com')).toEqual([]);
    expect(await caught('stale-handed@example.com')).toEqual([]);
    expect(await caught('stale-unhanded@example.com')).toHaveLength(1);
    // The claim changed hands: the worker that sent it is on record, and the handover time is set.
    const taken = await ledgerRow(staleUnhanded.enrollmentId);
    expect(taken.claimed_by).toBe('test-worker');
    expect(taken.handed_at).not.toBeNull();
  });

  it('lets a stalled worker hand over none of the claims another took over meanwhile', async () => {
    const ids = await enroll('stalled@example.com');
    await claimLeftBehind(ids, false, 120);
    const [row] = await t.database.db.selectFrom('sends').select('id').where('enrollment_id', '=', ids.enrollmentId).execute();
    const claim = {
      enrollmentId: ids.enrollmentId,
      stepId: 'welcome',
      leadId: ids.leadId,
      template: 'welcome',
      messageId: `<${ids.enrollmentId}@baton.test>`,
      marketing: true,
      claimedBy: 'live-worker',
    };
    const taken = await claimSends(t.database.db, [claim], new Date(Date.now() - 60_000));
    expect(taken.get(`${ids.enrollmentId}:welcome`)?.claimed).toBe(true);
    // The claim changed hands once: a second taker finds it fresh.
    expect(
      (await claimSends(t.database.db, [{ ...claim, claimedBy: 'third' }], new Date(Date.now() - 60_000))).get(`${ids.enrollmentId}:welcome`)?.claimed,
    ).toBe(false);
    const handOver = [{ id: row?.id ?? '', leadId: ids.leadId, emailHash: t.services.suppression.hash('stalled@example.com') }];
    expect(await markHandedOver(t.database.db, handOver, 'dead-worker')).toEqual(new Map());
    expect(await markHandedOver(t.database.db, handOver, 'live-worker')).toEqual(new Map([[row?.id, 'handed']]));
  });
});
