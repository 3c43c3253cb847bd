import request from 'supertest';
import { createApp } from '../../src/app.js';
import { enrollmentTotals, stepCounts } from '../../src/enrollments/sequence-stats.repository.js';
import { createLogger } from '../../src/platform/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { createTestApp, TEST_API_KEY, TEST_SECRET, type TestApp } from '../helpers/test-app.js';

/*
 * Erasure (DELETE /api/leads/:id) leaves no trace of the person: tracked links stop redirecting
 * at once, on every process, and sequence statistics keep their numbers without the lead.
 */

let t: TestApp;
// A second Baton process on the same database: its own services, caches and LISTEN connection.
let other: { services: Services; api: ReturnType<typeof request> };

beforeAll(async () => {
  t = await createTestApp();
  const logger = createLogger('silent');
  const services = await createServices(t.database.db, { secret: TEST_SECRET, publicUrl: 'https://baton.test', logger, listenPool: t.database.pool });
  other = { services, api: request(createApp({ apiKey: TEST_API_KEY, companyName: 'Acme Test', logger, services, pingDatabase: t.database.ping })) };
});
afterAll(async () => {
  await other.services.tracking.close();
  await t.close();
});

const newLead = async (email: string) => (await t.api.post('/api/leads').set(t.auth).send({ email })).body.id as string;

describe('erasing a lead', () => {
  it('makes its tracked links answer 404 at once, here and on another process that had them cached', async () => {
    const leadId = await newLead('clicker@example.com');
    const [email] = await t.services.tracking.prepareEmails([
      { sendId: 'send-erase', leadId, html: '<a href="https://example.com/offer">Offer</a>', text: '', keepUrls: [] },
    ]);
    const link = new URL(/href="([^"]+)"/.exec(email?.html ?? '')?.[1] ?? '').pathname;
    // Both processes have served the link, so both hold it in their caches.
    expect((await t.api.get(link)).status).toBe(302);
    expect((await other.api.get(link)).status).toBe(302);

    await t.api.delete(`/api/leads/${leadId}`).set(t.auth).expect(204);

    expect((await t.api.get(link)).status).toBe(404);
    // The other process hears of it through PostgreSQL's notification, within milliseconds.
    const deadline = Date.now() + 2000;
    let status = (await other.api.get(link)).status;
    while (status !== 404 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = (await other.api.get(link)).status;
    }
    expect(status).toBe(404);
  });

  it('keeps the sequence statistics it counted in, without keeping the person', async () => {
    const [done, active, staying] = [await newLead('done@example.com'), await newLead('active@example.com'), await newLead('staying@example.com')];
    const sql = (text: string, values: unknown[]) => t.database.pool.query(text, values);
    const enroll = async (leadId: string) =>
      (
        (await sql(`insert into enrollments (lead_id, sequence_id, sequence_version, current_step) values ($1, 'kept', 1, 'welcome') returning id`, [leadId]))
          .rows[0] as { id: string }
      ).id;
    const enrollments = { done: await enroll(done), active: await enroll(active), staying: await enroll(staying) };
    await sql(`update enrollments set current_step = 'thanks', status = 'completed' where id = $1`, [enrollments.done]);
    for (const [leadId, enrollmentId] of [
      [done, enrollments.done],
      [active, enrollments.active],
    ]) {
      const send = (
        (
          await sql(
            `insert into sends (enrollment_id, step_id, lead_id, template, message_id, status) values ($1, 'welcome', $2, 'welcome', $3, 'sent') returning id`,
            [enrollmentId, leadId, `<${leadId}@baton.test>`],
          )
        ).rows[0] as { id: string }
      ).id;
      await sql(
        `insert into events (lead_id, type, properties, occurred_at) values ($1, 'email_clicked', jsonb_build_object('sendId', $2::text, 'machine', false), now())`,
        [leadId, send],
      );
    }
    const before = { steps: await stepCounts(t.database.db, 'kept'), totals: await enrollmentTotals(t.database.db, 'kept') };
    expect(before.steps.get('welcome')).toMatchObject({ entered: 3, sent: 2, humanClicks: 2, active: 2 });
    expect(before.totals).toMatchObject({ entered: 3, active: 2, completed: 1 });

    await t.api.delete(`/api/leads/${done}`).set(t.auth).expect(204);
    await t.api.delete(`/api/leads/${active}`).set(t.auth).expect(204);

    const after = { steps: await stepCounts(t.database.db, 'kept'), totals: await enrollmentTotals(t.database.db, 'kept') };
    // Same numbers; the erased lead that was still in the sequence now counts as exited there.
    expect(after.steps.get('welcome')).toEqual({ ...before.steps.get('welcome'), active: 1, exited: 1 });
    expect(after.steps.get('thanks')).toEqual(before.steps.get('thanks'));
    expect(after.totals).toEqual({ ...before.totals, active: 1, exited: 1 });
    // Nothing of the two people is left: only counts by sequence and step.
    const { rows } = await t.database.pool.query(`select count(*)::int as n from enrollments where lead_id = any($1)`, [[done, active]]);
    expect(rows[0]).toEqual({ n: 0 });
  });

  it("removes the person from the buying group of every other lead's stored briefing", async () => {
    const [erased, kept, handedOff, older] = [
      await newLead('erased@wayne.test'),
      await newLead('kept@wayne.test'),
      await newLead('buyer@wayne.test'),
      await newLead('earlier@wayne.test'),
    ];
    const buyer = (leadId: string | null, email: string, actions: number) => ({
      ...(leadId ? { leadId } : {}),
      name: email,
      email,
      title: 'CTO',
      actions,
      lastAt: '2026-11-20T10:00:00.000Z',
      lastWhen: '2026-11-20 10:00 UTC',
      did: ['Viewed /pricing'],
    });
    const handoff = async (leadId: string, buyingGroup: unknown[]) =>
      (
        (
          await t.database.pool.query(`insert into handoffs (lead_id, rep_id, assignment, score, briefing) values ($1, 'sam', '{}', '{}', $2) returning id`, [
            leadId,
            JSON.stringify({
              leadId,
              who: { email: `${leadId}@wayne.test` },
              account: { domain: 'wayne.test', people: 3, engagement: 50, groupActions: 7, days: 30, buyingGroup },
            }),
          ])
        ).rows[0] as { id: string }
      ).id;
    const withIds = await handoff(handedOff, [buyer(erased, 'erased@wayne.test', 4), buyer(kept, 'kept@wayne.test', 3)]);
    // Stored before buyers carried their lead id: found by the address.
    const byAddress = await handoff(older, [buyer(null, 'Erased@Wayne.test', 4), buyer(null, 'kept@wayne.test', 3)]);
    const untouched = await handoff(erased, [buyer(kept, 'kept@wayne.test', 3)]);

    await t.api.delete(`/api/leads/${erased}`).set(t.auth).expect(204);

    const briefingOf = async (id: string) =>
      (
        (await t.database.pool.query(`select briefing from handoffs where id = $1`, [id])).rows[0] as
          { briefing: { account: Record<string, unknown> } } | undefined
      )?.briefing;
    for (const id of [withIds, byAddress]) {
      const briefing = await briefingOf(id);
      expect(briefing?.account).toMatchObject({
        domain: 'wayne.test',
        people: 2,
        engagement: 50,
        groupActions: 3,
        days: 30,
        buyingGroup: [{ email: 'kept@wayne.test' }],
      });
      expect(JSON.stringify(briefing)).not.toMatch(/erased@wayne\.test/i);
    }
    // The erased lead's own handoff went with it.
    expect(await briefingOf(untouched)).toBeUndefined();
  });
});
