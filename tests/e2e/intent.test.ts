import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { caughtMail } from '../helpers/caught-mail.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';

/*
 * Hand-raisers, with the shipped example files (scoring.yaml, sales-team.yaml, sequences/,
 * templates/ of the checkout), through HTTP, the real database, the workers and the embedded SMTP
 * sink: a grade-A demo request under the MQL threshold reaches a rep within seconds and ends the
 * nurture as converted; an unsubscribed lead's request is handed off as sales-only; a colleague at
 * the same company goes to the same rep with the buying group in the briefing; a disqualified lead
 * asking again goes back to its previous rep.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const API_KEY = 'intent-api-key-0123456789abcdef';

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-intent-'));
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_TEMPLATES_DIR: path.join(ROOT, 'templates'),
    BATON_SEQUENCES_DIR: path.join(ROOT, 'sequences'),
    BATON_SCORING_FILE: path.join(ROOT, 'scoring.yaml'),
    BATON_SALES_TEAM_FILE: path.join(ROOT, 'sales-team.yaml'),
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'intent-secret-0123456789abcdef0123456789ab',
    BATON_PUBLIC_URL: 'https://baton.test',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  api = request(baton.url ?? '');
}, 300_000);

afterAll(async () => {
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

const auth = { Authorization: `Bearer ${API_KEY}` };
const mails = () => caughtMail(api, auth);

interface HandoffDetail {
  id: string;
  status: string;
  rep: { id: string };
  assignment: { reason: string; detail: string };
  briefing: {
    handRaised: { rule: string; label: string } | null;
    salesOnly: { note: string } | null;
    returning: { previousRep: { id: string }; note: string } | null;
    account: { domain: string; people: number; engagement: number; buyingGroup: Array<{ email: string; did: string[] }> } | null;
    flags: string[];
  };
}

async function createLead(body: Record<string, unknown>): Promise<string> {
  const res = await api.post('/api/leads').set(auth).send(body);
  expect(res.status).toBe(201);
  return res.body.id as string;
}

async function submitForm(leadId: string, form: string): Promise<void> {
  const res = await api.post('/api/events').set(auth).send({ leadId, type: 'form_submit', properties: { form } });
  expect(res.status).toBeLessThan(300);
}

/** The lead's open handoff, with its briefing, once there is one. */
async function waitForHandoff(leadId: string, status = 'pending'): Promise<HandoffDetail> {
  const listed = await until(
    async () => (await api.get('/api/handoffs').query({ leadId, status }).set(auth)).body.items as Array<{ id: string }>,
    (items) => items.length > 0,
    15_000,
  );
  expect(listed).toHaveLength(1);
  const res = await api.get(`/api/handoffs/${listed[0]?.id ?? ''}`).set(auth);
  expect(res.status).toBe(200);
  return res.body as HandoffDetail;
}

async function enrollmentStatus(leadId: string, sequenceId: string): Promise<{ status: string; exit_reason: string | null } | undefined> {
  const { rows } = await baton.database.pool.query<{ status: string; exit_reason: string | null }>(
    'select status, exit_reason from enrollments where lead_id = $1 and sequence_id = $2',
    [leadId, sequenceId],
  );
  return rows[0];
}

async function score(leadId: string): Promise<{ stage: string; engagement: number; grade: string }> {
  return (await api.get(`/api/leads/${leadId}/score`).set(auth)).body;
}

// A grade-A buyer by the shipped scoring.yaml: VP (15), sales (10), 50–5,000 people (10), US (5).
const vp = (email: string, extra: Record<string, unknown> = {}) => ({
  email,
  firstName: 'Ada',
  lastName: 'Lovelace',
  title: 'VP Sales',
  company: 'Globex',
  country: 'US',
  traits: { company_size: 200, industry: 'saas' },
  ...extra,
});

let adaId: string;

describe('hand-raisers with the shipped example files', () => {
  it('hands a grade-A demo request under the threshold to a rep, whose email arrives within seconds, and the nurture ends converted', async () => {
    adaId = await createLead(vp('ada@globex.test'));
    // The lead_created trigger enrolls the lead in b2b-nurture (the welcome waits for the send window).
    await until(
      () => enrollmentStatus(adaId, 'b2b-nurture'),
      (row) => row !== undefined,
    );

    const askedAt = Date.now();
    await submitForm(adaId, 'demo');
    const [repMail] = await mails().waitForMails('sam@example.com', 1, 15_000);
    const elapsedMs = Date.now() - askedAt;
    expect(repMail?.subject).toBe('Demo request: Ada Lovelace (Globex), score 80');
    // Seconds, not a poll and not never: `npm run bench:handoff` measures the latency itself (p99
    // under 1 s); here the embedded database shares two loaded cores with other test files.
    expect(elapsedMs).toBeLessThan(20_000);
    expect(repMail?.text).toMatch(/They asked for sales: Demo request \(Submitted form demo,/);

    // Engagement 40 is under the threshold of 50: the request alone sent the lead to sales.
    expect(await score(adaId)).toMatchObject({ stage: 'mql', engagement: 40, grade: 'A' });
    const handoff = await waitForHandoff(adaId);
    expect(handoff).toMatchObject({ rep: { id: 'sam' }, assignment: { reason: 'territory' } });
    expect(handoff.briefing).toMatchObject({ handRaised: { rule: 'demo-request', label: 'Demo request' }, salesOnly: null, returning: null, flags: [] });
    expect(handoff.briefing.account).toMatchObject({ domain: 'globex.test', people: 1, buyingGroup: [] });

    // The demo request is b2b-nurture's goal: converted, not exited by the handoff.
    expect(await enrollmentStatus(adaId, 'b2b-nurture')).toEqual({ status: 'converted', exit_reason: 'goal form_submit' });
    const stats = await api.get('/api/sequences/b2b-nurture/stats').set(auth);
    expect(stats.body.totals).toMatchObject({ converted: 1, exited: 0 });
  });

  it("hands an unsubscribed lead's demo request to sales, with a briefing that says to contact it about the request only", async () => {
    const leadId = await createLead(vp('grace@initech.test', { firstName: 'Grace', lastName: 'Hopper', company: 'Initech' }));
    expect((await api.patch(`/api/leads/${leadId}`).set(auth).send({ unsubscribed: true })).status).toBe(200);
    const unsubscribedAt = String((await api.get(`/api/leads/${leadId}`).set(auth)).body.unsubscribedAt);

    await submitForm(leadId, 'demo');
    const handoff = await waitForHandoff(leadId);
    const note = `Unsubscribed from marketing email on ${unsubscribedAt.slice(0, 10)}: contact about the demo request only`;
    expect(handoff.briefing.salesOnly?.note).toBe(note);
    expect(handoff.briefing.flags).toEqual([note]);
    const [repMail] = await mails()
      .waitForMails('sam@example.com', 2, 15_000)
      .then((all) => all.filter((mail) => mail.subject?.includes('Grace Hopper')));
    expect(repMail?.text).toContain(note);
    expect(String(repMail?.html)).toContain(note);
  });

  it('gives a colleague at the same company to the rep who has the account, with the buying group in the briefing', async () => {
    // A French lead would go to Léa by territory; Sam already has Ada's handoff at globex.test.
    const leadId = await createLead({
      email: 'alan@globex.test',
      firstName: 'Alan',
      lastName: 'Turing',
      title: 'Head of Marketing',
      country: 'FR',
      traits: { company_size: 300 },
    });
    await submitForm(leadId, 'contact-sales');
    const handoff = await waitForHandoff(leadId);
    expect(handoff).toMatchObject({ rep: { id: 'sam' }, assignment: { reason: 'account_owner' } });
    expect(handoff.briefing.handRaised).toMatchObject({ rule: 'contact-sales', label: 'Contact-sales request' });
    expect(handoff.briefing.account).toMatchObject({
      domain: 'globex.test',
      people: 2,
      buyingGroup: [{ email: 'ada@globex.test', did: ['Submitted form demo'] }],
    });
    // 40 points for Ada's demo request; Alan's form gives none.
    expect(handoff.briefing.account?.engagement).toBe(40);
  });

  it('sends a disqualified lead who asks again back to its previous rep, flagged', async () => {
    const leadId = await createLead({
      email: 'marie@lutece.test',
      firstName: 'Marie',
      lastName: 'Curie',
      title: 'Head of Sales',
      country: 'FR',
      traits: { company_size: 300 },
    });
    await submitForm(leadId, 'demo');
    const first = await waitForHandoff(leadId);
    expect(first.rep.id).toBe('lea');
    const rejected = await api.post(`/api/handoffs/${first.id}/reject`).set(auth).send({ reason: 'a student project', disqualify: true });
    expect(rejected.status).toBe(200);
    expect(await score(leadId)).toMatchObject({ stage: 'disqualified' });

    // She moved to the US: by territory she would now be Sam's.
    expect(
      (
        await api
          .patch(`/api/leads/${leadId}`)
          .set(auth)
          .send({ country: 'US', traits: { company_size: 300, industry: 'saas' } })
      ).status,
    ).toBe(200);
    await submitForm(leadId, 'contact-sales');
    const second = await waitForHandoff(leadId);
    expect(second.id).not.toBe(first.id);
    expect(second).toMatchObject({ rep: { id: 'lea' }, assignment: { reason: 'previous_rep' } });
    expect(second.briefing.returning?.note).toMatch(
      /^Previously disqualified on \d{4}-\d{2}-\d{2} \(“a student project”\); they raised a hand again and go back to Léa Martin, who had them before$/,
    );
    expect(second.briefing.flags).toEqual([second.briefing.returning?.note]);
  });

  it('does not hand an unsubscribed lead to sales for a demo request made before it unsubscribed, and does for one made after', async () => {
    const leadId = await createLead(vp('linus@hooli.test', { firstName: 'Linus', lastName: 'Torvalds', company: 'Hooli' }));
    expect((await api.patch(`/api/leads/${leadId}`).set(auth).send({ unsubscribed: true })).status).toBe(200);
    const unsubscribedAt = new Date(String((await api.get(`/api/leads/${leadId}`).set(auth)).body.unsubscribedAt));
    // Recorded late (an import, a delayed form tool): it happened an hour before the unsubscribe.
    const old = await api
      .post('/api/events')
      .set(auth)
      .send({ leadId, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date(unsubscribedAt.getTime() - 3_600_000).toISOString() });
    expect(old.status).toBeLessThan(300);
    // Rescored with the request's 40 points, and not handed off.
    await until(
      async () =>
        (await baton.database.pool.query<{ engagement: number }>('select engagement from lead_scores where lead_id = $1', [leadId])).rows[0]?.engagement ?? 0,
      (points) => points >= 40,
      15_000,
    );
    expect((await api.get('/api/handoffs').query({ leadId }).set(auth)).body.items).toEqual([]);
    expect(await score(leadId)).toMatchObject({ stage: 'lead' });

    await submitForm(leadId, 'demo');
    expect((await waitForHandoff(leadId)).briefing.salesOnly?.note).toMatch(/contact about the demo request only$/);
  });
});
