import { simpleParser } from 'mailparser';
import { createSequenceRunner, STEP_JOB, type JobQueue, type SequenceRunner } from '../../src/enrollments/sequence-runner.js';
import { createLogger } from '../../src/platform/logger.js';
import { insertJobs } from '../../src/platform/scheduler.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';
import type { Sequence } from '../../src/sequences/sequence.js';
import type { TemplateStore } from '../../src/templates/template-store.js';
import { startDeliverySetup, type DeliverySetup } from '../helpers/delivery-setup.js';
import type { TestApp } from '../helpers/test-app.js';

/*
 * One batch of the email queue (runner.runEmailBatch), the way a worker's dispatch lane runs it,
 * on a real database and SMTP sink: every row of a mixed batch ends where it should, and the
 * queue, the enrollments, Agenda's table and the ledger agree afterwards.
 */

let setup: DeliverySetup;
let t: TestApp;
let templates: TemplateStore;
let runner: SequenceRunner;

const NURTURE = `id: batch
name: Batch
version: 1
priority: 5
entry: { trigger: { type: manual } }
goals:
  - event: form_submit
    where: { form: demo }
steps:
  - id: welcome
    email: welcome
  - id: pause
    wait: 2d
  - id: done
    end: true
`;
// Always outside its send window: Saturday 03:00-04:00 in Kiribati, and the clock below is a Wednesday noon UTC.
const WINDOWED = `id: windowed
name: Windowed
version: 1
entry: { trigger: { type: manual } }
send_window: { days: [sat], hours: "03:00-04:00", timezone: Pacific/Kiritimati }
steps:
  - id: hello
    email: welcome
`;
const PRIORITY = `id: priority
name: Higher priority
version: 1
priority: 50
entry: { trigger: { type: manual } }
steps:
  - id: first
    email: case-study
  - id: done
    end: true
`;

function sequence(text: string): Sequence {
  const parsed = parseSequence(text, 'test.yaml', templates);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.sequence;
}

beforeAll(async () => {
  setup = await startDeliverySetup();
  t = setup.t;
  templates = setup.templates;
  const delivery = setup.deliveryWith(undefined, 'batch-test');
  const { leads } = t.services;
  // Step jobs go into Agenda's table as Agenda's own schedule() would put them; no scheduler runs here.
  const queue: JobQueue = { schedule: (at, job) => insertJobs(t.database.db, STEP_JOB, [{ at, data: job }]) };
  runner = createSequenceRunner({
    db: t.database.db,
    leads,
    delivery,
    queue,
    logger: createLogger('silent'),
    sequences: [sequence(NURTURE), sequence(WINDOWED), sequence(PRIORITY)],
    isMarketing: (template) => templates.get(template)?.meta.category !== 'transactional',
    frequencyCap: { count: 1, windowMs: 3_600_000 },
    webhooks: { sender: { send: async () => ({ kind: 'refused', reason: 'no webhooks here' }) }, secrets: {}, retryDelayMs: () => null },
  });
});
afterAll(() => setup.close());

async function enrolled(email: string, sequenceId: string): Promise<{ leadId: string; enrollmentId: string }> {
  const lead = await t.api.post('/api/leads').set(t.auth).send({ email, firstName: 'Ada' });
  const leadId: string = lead.body.id;
  const outcome = await runner.enroll(sequenceId, leadId, new Date());
  if (outcome.kind !== 'enrolled') throw new Error(`not enrolled: ${JSON.stringify(outcome)}`);
  return { leadId, enrollmentId: outcome.enrollment.id };
}

const query = async <Row>(text: string, values: unknown[] = []) => (await t.database.pool.query(text, values)).rows as Row[];
const mailTo = async (email: string) =>
  Promise.all((await query<{ raw: string }>(`select raw from dev_mail where $1 = any(envelope_to)`, [email])).map((row) => simpleParser(row.raw)));

describe('a batch from the email queue', () => {
  it('sends, defers, exits and converts each row as its enrollment needs, and leaves the queue consistent', async () => {
    const sent = await enrolled('batch-sent@example.com', 'batch');
    const unsubscribed = await enrolled('batch-unsubscribed@example.com', 'batch');
    await t.services.leads.optOut(unsubscribed.leadId);
    const converted = await enrolled('batch-converted@example.com', 'batch');
    await t.api
      .post('/api/events')
      .set(t.auth)
      .send({ leadId: converted.leadId, type: 'form_submit', properties: { form: 'demo' } })
      .expect(202);
    const windowed = await enrolled('batch-windowed@example.com', 'windowed');
    const ended = await enrolled('batch-ended@example.com', 'batch');
    await t.database.pool.query(`update enrollments set status = 'exited', exit_reason = 'by hand' where id = $1`, [ended.enrollmentId]);
    // One lead in two sequences: the higher priority goes, and the other yields under the cap of one an hour.
    const rival = await enrolled('batch-rival@example.com', 'batch');
    await runner.enroll('priority', rival.leadId, new Date());

    const queued = await query<{ enrollment_id: string; step_id: string }>('select enrollment_id, step_id from email_queue');
    expect(queued).toHaveLength(7);
    const wednesdayNoon = new Date('2030-01-02T12:00:00Z');
    await runner.runEmailBatch(
      queued.map((row) => ({ enrollmentId: row.enrollment_id, stepId: row.step_id })),
      wednesdayNoon,
    );

    const enrollments = new Map(
      (
        await query<{ id: string; lead_id: string; sequence_id: string; status: string; current_step: string; exit_reason: string | null }>(
          'select id, lead_id, sequence_id, status, current_step, exit_reason from enrollments',
        )
      ).map((row) => [row.id, row]),
    );
    expect(enrollments.get(sent.enrollmentId)).toMatchObject({ status: 'active', current_step: 'pause' });
    expect(enrollments.get(unsubscribed.enrollmentId)).toMatchObject({ status: 'exited', exit_reason: 'the lead unsubscribed' });
    expect(enrollments.get(converted.enrollmentId)).toMatchObject({ status: 'converted', exit_reason: 'goal form_submit' });
    expect(enrollments.get(windowed.enrollmentId)).toMatchObject({ status: 'active', current_step: 'hello' });
    expect(enrollments.get(ended.enrollmentId)).toMatchObject({ status: 'exited', exit_reason: 'by hand' });
    const rivalRows = [...enrollments.values()]
      .filter((row) => row.lead_id === rival.leadId)
      .map((row) => [row.sequence_id, row.status, row.current_step])
      .sort();
    expect(rivalRows).toEqual([
      ['batch', 'active', 'welcome'],
      ['priority', 'completed', 'done'],
    ]);

    expect(await mailTo('batch-sent@example.com')).toHaveLength(1);
    expect((await mailTo('batch-rival@example.com')).map((mail) => mail.subject)).toEqual(['How Northwind doubled sales-accepted leads in a quarter']);
    for (const email of ['batch-unsubscribed@example.com', 'batch-converted@example.com', 'batch-windowed@example.com', 'batch-ended@example.com'])
      expect(await mailTo(email)).toEqual([]);

    // What is left in the queue waits: the send window opens on Saturday, and the capped email looks again later.
    const left = await query<{ enrollment_id: string; due_at: Date; leased_by: string | null }>('select enrollment_id, due_at, leased_by from email_queue');
    const dueOf = new Map(left.map((row) => [row.enrollment_id, row.due_at.getTime()]));
    expect([...dueOf.keys()].sort()).toEqual(
      [windowed.enrollmentId, [...enrollments.values()].find((row) => row.lead_id === rival.leadId && row.sequence_id === 'batch')?.id].sort(),
    );
    expect(new Date(dueOf.get(windowed.enrollmentId) ?? 0).toISOString()).toBe('2030-01-04T13:00:00.000Z');
    expect([...dueOf.values()].every((due) => due > wednesdayNoon.getTime())).toBe(true);

    // The sent one waits two days, as an Agenda job at the end of the wait.
    const jobs = await query<{ next_run_at: Date; data: { enrollmentId: string; stepId: string } }>(
      `select next_run_at, data from agenda_jobs where name = $1`,
      [STEP_JOB],
    );
    const pause = jobs.find((job) => job.data.enrollmentId === sent.enrollmentId);
    expect(pause?.data.stepId).toBe('pause');
    expect(pause?.next_run_at.toISOString()).toBe('2030-01-04T12:00:00.000Z');

    // A second run of the same rows (a lease that ran out), at the time the ledger knows, sends nothing again.
    // With them, an email whose send a dead worker left unknown: under the cap it is not held by
    // its own ledger row, and the enrollment goes on without sending.
    const rerun = await enrolled('batch-rerun@example.com', 'batch');
    await t.database.pool.query(
      `insert into sends (enrollment_id, step_id, lead_id, template, message_id, status, outcome, handed_at)
      values ($1, 'welcome', $2, 'welcome', '<rerun@baton.test>', 'unknown', 'interrupted', now())`,
      [rerun.enrollmentId, rerun.leadId],
    );
    await runner.runEmailBatch(
      [...queued.map((row) => ({ enrollmentId: row.enrollment_id, stepId: row.step_id })), { enrollmentId: rerun.enrollmentId, stepId: 'welcome' }],
      new Date(),
    );
    expect((await query<{ current_step: string }>('select current_step from enrollments where id = $1', [rerun.enrollmentId]))[0]?.current_step).toBe('pause');
    expect(await mailTo('batch-rerun@example.com')).toEqual([]);
    expect(await mailTo('batch-sent@example.com')).toHaveLength(1);
    expect(await mailTo('batch-rival@example.com')).toHaveLength(1);
    const ledger = await query<{ status: string; n: number }>('select status, count(*)::int as n from sends group by 1 order by 1');
    expect(ledger).toEqual([
      { status: 'sent', n: 2 },
      { status: 'unknown', n: 1 },
    ]);
  });
});
