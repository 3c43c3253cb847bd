import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { caughtMail } from '../helpers/caught-mail.js';
import { until } from '../helpers/until.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

/*
 * A sequence's handoff step, end to end (HTTP, real Postgres, Agenda, the embedded SMTP sink):
 * the lead goes to a rep at that point through the handoff service, once, with the step's reason
 * in the briefing's "read first" lines (API, rep's email), and leaves the sequence.
 */

const API_KEY = 'handoff-step-api-key-0123456789abcdef';

const files = {
  'sequences/sales-ready.yaml': `id: sales-ready
name: Sales-ready track
version: 1
entry:
  trigger: { type: manual }
steps:
  - id: welcome
    email: welcome
  - id: to-sales
    handoff: { reason: "Finished the pricing track: wants a quote for 40 seats" }
  - id: after
    email: case-study
`,
  'scoring.yaml': `half_life: 30d
grades: { A: 30, B: 20, C: 10 }
behaviour:
  - { id: click, label: Clicked an email link, event: email_clicked, points: 20, cap: 40 }
fit:
  - { id: exec, label: Decision-maker title, field: title, matches: "\\\\b(vp|head|chief)\\\\b", points: 25 }
lifecycle:
  mql: { engagement: 50, min_grade: B }
`,
  'sales-team.yaml': `fallback_owner: dana
reps:
  - id: lea
    name: Léa Martin
    email: lea@sales.test
    territories:
      - countries: [FR]
  - id: dana
    name: Dana Reyes
    email: dana@sales.test
`,
};

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-handoff-step-'));
  await mkdir(path.join(dir, 'sequences'));
  for (const [file, text] of Object.entries(files)) await writeFile(path.join(dir, file), text);
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_SCORING_FILE: path.join(dir, 'scoring.yaml'),
    BATON_SALES_TEAM_FILE: path.join(dir, 'sales-team.yaml'),
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'handoff-step-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: 'https://baton.test',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  api = request(baton.url ?? '');
});

afterAll(async () => {
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

const auth = { Authorization: `Bearer ${API_KEY}` };
const mails = () => caughtMail(api, auth);
const REASON_FLAG = 'Handed over by the sequence “Sales-ready track” (step to-sales): Finished the pricing track: wants a quote for 40 seats';

describe('the handoff step', () => {
  it("hands the lead to a rep at that step, once, with the step's reason in the briefing, and ends the nurture", async () => {
    const created = await api
      .post('/api/leads')
      .set(auth)
      .send({ email: 'amelie@fromagerie.fr', firstName: 'Amélie', lastName: 'Dupré', title: 'Head of Ops', company: 'Fromagerie Dupré', country: 'FR' });
    expect(created.status).toBe(201);
    const leadId: string = created.body.id;
    expect((await api.post('/api/sequences/sales-ready/enroll').set(auth).send({ leadId })).status).toBeLessThan(300);

    const [welcome] = await mails().waitForMails('amelie@fromagerie.fr', 1);
    expect(welcome?.subject).toContain('Welcome');
    const handoffs = await until(
      async () => (await api.get('/api/handoffs').query({ leadId }).set(auth)).body.items as Array<{ id: string; status: string; rep: { id: string } }>,
      (items) => items.length > 0,
    );
    expect(handoffs).toHaveLength(1);
    expect(handoffs[0]).toMatchObject({ status: 'pending', rep: { id: 'lea' } });

    const handoff = await api.get(`/api/handoffs/${handoffs[0]?.id ?? ''}`).set(auth);
    expect(handoff.body.briefing.flags).toEqual([REASON_FLAG]);
    expect(handoff.body.briefing.handedOver).toEqual({
      sequence: { id: 'sales-ready', name: 'Sales-ready track' },
      stepId: 'to-sales',
      reason: 'Finished the pricing track: wants a quote for 40 seats',
      note: REASON_FLAG,
    });
    const [repMail] = await mails().waitForMails('lea@sales.test', 1);
    expect(repMail?.text).toContain(REASON_FLAG);

    const score = await api.get(`/api/leads/${leadId}/score`).set(auth);
    expect(score.body.stage).toBe('mql');
    const { rows } = await baton.database.pool.query<{ status: string; exit_reason: string }>(
      'select status, exit_reason from enrollments where lead_id = $1',
      [leadId],
    );
    expect(rows).toEqual([{ status: 'exited', exit_reason: 'handed off to sales' }]);
    // The steps after the handoff never run: one email only, and still one handoff.
    const workerRoundTrip = await until(
      async () =>
        (await baton.database.pool.query('select count(*)::int as n from agenda_jobs where next_run_at is not null and name = $1', ['sequence-step']))
          .rows[0] as { n: number },
      (row) => row.n === 0,
    );
    expect(workerRoundTrip.n).toBe(0);
    expect(await mails().mailsTo('amelie@fromagerie.fr')).toHaveLength(1);
    expect((await api.get('/api/handoffs').query({ leadId }).set(auth)).body.items).toHaveLength(1);
  });
});
