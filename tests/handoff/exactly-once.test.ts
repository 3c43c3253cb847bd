import { createLogger } from '../../src/platform/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { createHandoffService, type HandoffService } from '../../src/handoff/handoff.service.js';
import { parseSalesTeam } from '../../src/handoff/sales-team.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import { parseScoringConfig, type ScoringConfig } from '../../src/scoring/scoring-config.js';
import { createScoringService, type ScoringService } from '../../src/scoring/scoring.service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/*
 * Exactly one handoff per MQL when many rescorings race for one lead, against real Postgres (on the
 * server, truly concurrent transactions): the stage compare-and-set and the unique index on open
 * handoffs decide, not the queue that usually serialises them.
 */

const scoringFile = parseScoringConfig(`behaviour:
  - { id: demo, event: form_submit, where: { form: demo }, points: 60 }
lifecycle:
  mql: { engagement: 50 }
`);
const team = parseSalesTeam(`fallback_owner: alex
reps:
  - { id: alex, name: Alex, email: alex@sales.test, territories: [{ countries: [US] }] }
  - { id: sam, name: Sam, email: sam@sales.test, territories: [{ countries: [US] }] }
`);

let database: TestDatabase;
let services: Services;
let scoring: ScoringService;
let handoffs: HandoffService;

beforeAll(async () => {
  if (!scoringFile.ok || !team.ok) throw new Error('fixture files do not parse');
  database = await createTestDatabase({ poolSize: 20 });
  const logger = createLogger('silent');
  services = await createServices(database.db, { secret: 'exactly-once-secret-0123456789abcdef', publicUrl: 'https://baton.test', logger });
  const config: ScoringConfig = scoringFile.config;
  handoffs = createHandoffService({
    db: database.db,
    leads: services.leads,
    team: team.team,
    scoring: () => scoring,
    config,
    sequenceName: (id) => id,
    enroll: () => Promise.resolve({ kind: 'unknown_sequence' }),
    // Notifications are only queued here (the outbox); sending is tested end to end elsewhere.
    notifier: { send: () => Promise.reject(new Error('this test sends nothing')) },
    webhooks: [],
    linkSigner: createTokenSigner('exactly-once-secret-0123456789abcdef', 'handoff'),
    publicUrl: 'https://baton.test',
    logger,
  });
  scoring = createScoringService({
    db: database.db,
    leads: services.leads,
    config,
    logger,
    onMarketingQualified: (leadId, score, from, now, cause, known) => handoffs.handOff(leadId, score, from, now, cause, known),
  });
});

afterAll(async () => {
  await services.tracking.close();
  await database.drop();
});

describe("the signed links in a rep's email", () => {
  const tokenOf = (link: string) => link.slice('https://baton.test/h/'.length);

  it('name the handoff, the action and the rep, and expire after 30 days', () => {
    const now = new Date('2026-11-27T12:00:00Z');
    const id = '00000000-0000-4000-8000-000000000001';
    expect(handoffs.readActionToken(tokenOf(handoffs.actionLink(id, 'reject', 'sam', now)), now)).toEqual({
      id,
      action: 'reject',
      repId: 'sam',
      expired: false,
    });
    const old = handoffs.actionLink(id, 'accept', 'sam', new Date(now.getTime() - 31 * 86_400_000));
    expect(handoffs.readActionToken(tokenOf(old), now)).toMatchObject({ action: 'accept', expired: true });
  });

  it('refuse a token altered or made for anything else', () => {
    const now = new Date();
    const token = tokenOf(handoffs.actionLink('00000000-0000-4000-8000-000000000001', 'accept', 'alex', now));
    const [payload = '', signature = ''] = token.split('.');
    const forged = `${Buffer.from(Buffer.from(payload, 'base64url').toString().replace(':accept:', ':convert:')).toString('base64url')}.${signature}`;
    expect(handoffs.readActionToken(forged, now)).toBeNull();
    expect(handoffs.readActionToken(createTokenSigner('exactly-once-secret-0123456789abcdef', 'unsubscribe').sign('x:accept:alex:9999999999'), now)).toBeNull();
  });
});

describe('a lead crossing the threshold', () => {
  it('is handed off once when 50 rescorings race', async () => {
    const created = await services.leads.upsert({ email: 'race@initech.test', country: 'US' });
    if (created.kind !== 'created') throw new Error(`lead not created: ${created.kind}`);
    const leadId = created.lead.id;
    await services.events.record(Array.from({ length: 50 }, () => ({ leadId, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date() })));
    const now = new Date();
    const results = await Promise.all(Array.from({ length: 50 }, () => scoring.rescore(leadId, now, 'event')));
    expect(results.every((result) => result?.stage === 'mql')).toBe(true);
    const rows = await database.pool.query<{ rep_id: string }>('select rep_id from handoffs where lead_id = $1', [leadId]);
    expect(rows.rows).toEqual([{ rep_id: 'alex' }]);
    const notes = await database.pool.query('select channel, target from handoff_notifications');
    expect(notes.rows).toEqual([{ channel: 'email', target: 'alex@sales.test' }]);
  });

  it('does not hand a rejected lead straight back: the rejection resets engagement in its own transaction', async () => {
    const first = await database.pool.query<{ id: string; lead_id: string }>(
      "select id, lead_id from handoffs where status = 'pending' order by created_at limit 1",
    );
    const handoff = first.rows[0];
    if (!handoff) throw new Error('no pending handoff');
    const decided = await handoffs.decide(handoff.id, 'reject', new Date(), { kind: 'api' }, { reason: 'no budget' });
    expect(decided).toMatchObject({ kind: 'done', handoff: { status: 'rejected', decidedBy: 'api' } });
    const again = await scoring.rescore(handoff.lead_id, new Date(), 'event');
    expect(again).toMatchObject({ stage: 'recycled', score: { engagement: 0 } });
    const open = await database.pool.query("select count(*)::int as n from handoffs where lead_id = $1 and status in ('pending', 'accepted')", [
      handoff.lead_id,
    ]);
    expect(open.rows[0]).toEqual({ n: 0 });
  });

  it('disqualifies a lead for good when sales says so: no recycling, never handed off again', async () => {
    const created = await services.leads.upsert({ email: 'student@uni.test', country: 'US' });
    if (created.kind !== 'created') throw new Error(`lead not created: ${created.kind}`);
    await services.events.record([{ leadId: created.lead.id, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date() }]);
    await scoring.rescore(created.lead.id, new Date(), 'event');
    const row = await database.pool.query<{ id: string }>('select id from handoffs where lead_id = $1', [created.lead.id]);
    const decided = await handoffs.decide(row.rows[0]?.id ?? '', 'reject', new Date(), { kind: 'api' }, { reason: 'student', disqualify: true });
    expect(decided).toMatchObject({ kind: 'done', handoff: { status: 'rejected', rejectReason: 'student' } });
    await services.events.record([{ leadId: created.lead.id, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date() }]);
    expect(await scoring.rescore(created.lead.id, new Date(), 'event')).toMatchObject({ stage: 'disqualified' });
    const count = await database.pool.query('select count(*)::int as n from handoffs where lead_id = $1', [created.lead.id]);
    expect(count.rows[0]).toEqual({ n: 1 });
  });

  it('counts an event dated a little ahead once its time comes', async () => {
    await scoring.activate();
    const created = await services.leads.upsert({ email: 'ahead@initech.test', country: 'US' });
    if (created.kind !== 'created') throw new Error(`lead not created: ${created.kind}`);
    await services.events.record([{ leadId: created.lead.id, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date(Date.now() + 1500) }]);
    while ((await scoring.processQueue(new Date())) > 0);
    expect((await scoring.report(created.lead.id, new Date()))?.stage).toBe('subscriber');
    const queued = await database.pool.query('select taken_at from score_queue where lead_id = $1', [created.lead.id]);
    expect(queued.rows).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 1700));
    // Taken again once the event's time has come (the deferral makes the take look stale then).
    await scoring.processQueue(new Date());
    expect((await scoring.report(created.lead.id, new Date()))?.stage).toBe('mql');
  });

  it('queues events inserted by concurrent batches for the same leads without deadlocking', async () => {
    await scoring.activate();
    const ids: string[] = [];
    for (let index = 0; index < 40; index++) {
      const created = await services.leads.upsert({ email: `batch${index}@initech.test` });
      if (created.kind === 'created') ids.push(created.lead.id);
    }
    const batch = (order: string[]) =>
      services.events.record(order.map((leadId) => ({ leadId, type: 'page_view', properties: { path: '/blog' }, occurredAt: new Date() })));
    const reversed = [...ids].reverse();
    const shuffled = [...ids].sort((a, b) => a.slice(9).localeCompare(b.slice(9)));
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, index) => batch([ids, reversed, shuffled][index % 3] ?? ids)));
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    const queued = await database.pool.query('select count(*)::int as n from score_queue where lead_id = any($1::uuid[])', [ids]);
    expect(queued.rows[0]).toEqual({ n: 40 });
  });

  it('round robins the next lead of the same pool to the other rep', async () => {
    const previous = await database.pool.query<{ rep_id: string }>('select rep_id from handoffs order by created_at desc limit 1');
    const other = previous.rows[0]?.rep_id === 'alex' ? 'sam' : 'alex';
    // Another company: a lead at initech.test would go to the rep who has that account's handoff.
    const created = await services.leads.upsert({ email: 'next@hooli.test', country: 'US' });
    if (created.kind !== 'created') throw new Error(`lead not created: ${created.kind}`);
    await services.events.record([{ leadId: created.lead.id, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date() }]);
    await scoring.rescore(created.lead.id, new Date(), 'event');
    const rows = await database.pool.query<{ rep_id: string }>('select rep_id from handoffs where lead_id = $1', [created.lead.id]);
    expect(rows.rows).toEqual([{ rep_id: other }]);
  });
});
