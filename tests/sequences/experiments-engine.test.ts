import { armForLead, holdoutArmForLead } from '../../src/experiments/assignment.js';
import { createSequenceRunner, type JobQueue, type SequenceRunner, type StepJob } from '../../src/enrollments/sequence-runner.js';
import { createLogger } from '../../src/platform/logger.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';
import type { Sequence } from '../../src/sequences/sequence.js';
import type { TemplateStore } from '../../src/templates/template-store.js';
import { startDeliverySetup, type DeliverySetup } from '../helpers/delivery-setup.js';
import type { TestApp } from '../helpers/test-app.js';

/*
 * Splits and holdouts in the engine, on a real database and SMTP sink: the arm a lead takes is
 * the hash's, recorded with its enrollment, kept across a restart and an edit of the weights,
 * replaced only when the edit removed it, and a recorded winner takes new leads. A held-out lead
 * gets no email of the sequence, yet walks it and converts on its goal.
 */

let setup: DeliverySetup;
let t: TestApp;
let templates: TemplateStore;
const scheduled: Array<{ at: Date; job: StepJob }> = [];
const queue: JobQueue = { schedule: async (at, job) => void scheduled.push({ at, job }) };

// Only the steps its arms lead to: the loader refuses a step nothing reaches.
const EMAIL_STEPS: Record<string, string> = {
  short: '  - id: email-short\n    email: welcome\n    next: done\n',
  long: '  - id: email-long\n    email: case-study\n    next: done\n',
  medium: '  - id: email-medium\n    email: roi-calculator\n    next: done\n',
};
const split = (arms: string) => `id: ab
name: Subject test
version: 1
entry: { trigger: { type: manual }, reentry: { after: 1s } }
steps:
  - id: subject-test
    split:
      arms:
${arms}
${Object.keys(EMAIL_STEPS).filter((arm) => arms.includes(`id: ${arm},`)).map((arm) => EMAIL_STEPS[arm]).join('')}  - id: done
    end: true
`;
const FIFTY_FIFTY = split(`        - { id: short, weight: 50, next: email-short }
        - { id: long, weight: 50, next: email-long }`);
const ONE_TO_99 = split(`        - { id: short, weight: 1, next: email-short }
        - { id: long, weight: 99, next: email-long }`);
const SHORT_REMOVED = split(`        - { id: long, weight: 50, next: email-long }
        - { id: medium, weight: 50, next: email-medium }`);
const ARMS_50_50 = [{ id: 'short', weight: 50 }, { id: 'long', weight: 50 }];

const HOLDOUT = `id: held
name: Holdout
version: 1
holdout: 50%
entry: { trigger: { type: manual } }
goals:
  - event: form_submit
    where: { form: demo }
steps:
  - id: hello
    email: welcome
  - id: pause
    wait: 1d
  - id: done
    end: true
`;

function sequence(text: string): Sequence {
  const parsed = parseSequence(text, 'test.yaml', templates);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.sequence;
}

/** A runner as a worker process builds it at start, from these files. */
function runnerFor(...texts: string[]): SequenceRunner {
  return createSequenceRunner({
    db: t.database.db, leads: t.services.leads, delivery: setup.deliveryWith(undefined, 'experiments-test'), queue, logger: createLogger('silent'),
    sequences: texts.map(sequence), isMarketing: () => true, frequencyCap: null,
    webhooks: { sender: { send: async () => ({ kind: 'refused', reason: 'no webhooks here' }) }, secrets: {}, retryDelayMs: () => null },
  });
}

beforeAll(async () => {
  setup = await startDeliverySetup();
  t = setup.t;
  templates = setup.templates;
});
afterAll(() => setup.close());

const query = async <Row>(text: string, values: unknown[] = []) => (await t.database.pool.query(text, values)).rows as Row[];

/** Runs due step jobs and email batches until nothing is due at `now`. */
async function drive(runner: SequenceRunner, now: Date): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const index = scheduled.findIndex((entry) => entry.at.getTime() <= now.getTime());
    if (index >= 0) {
      const [entry] = scheduled.splice(index, 1);
      if (entry) await runner.runStep(entry.job, now);
      continue;
    }
    const due = await query<{ enrollment_id: string; step_id: string }>('select enrollment_id, step_id from email_queue where due_at <= $1', [now]);
    if (due.length === 0) return;
    await runner.runEmailBatch(due.map((row) => ({ enrollmentId: row.enrollment_id, stepId: row.step_id })), now);
  }
  throw new Error('the engine never settled');
}

let leadCount = 0;
/** A new lead whose id satisfies `wanted` (ids are random: a few tries find one). */
async function leadWhere(wanted: (leadId: string) => boolean): Promise<string> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const created = await t.api.post('/api/leads').set(t.auth).send({ email: `exp-${++leadCount}@example.com`, firstName: 'Zoë' }).expect(201);
    const id: string = created.body.id;
    if (wanted(id)) return id;
  }
  throw new Error('no lead id matched');
}

async function enroll(runner: SequenceRunner, sequenceId: string, leadId: string, now: Date): Promise<string> {
  const outcome = await runner.enroll(sequenceId, leadId, now);
  if (outcome.kind !== 'enrolled') throw new Error(`not enrolled: ${JSON.stringify(outcome)}`);
  return outcome.enrollment.id;
}

const assignmentOf = async (leadId: string, sequenceId: string, stepId: string) =>
  (await query<{ arm_id: string; enrollment_id: string | null }>('select arm_id, enrollment_id from experiment_assignments where lead_id = $1 and sequence_id = $2 and step_id = $3', [leadId, sequenceId, stepId]))[0];
const sentTemplates = async (leadId: string) =>
  (await query<{ template: string }>(`select template from sends where lead_id = $1 and status = 'sent' order by claimed_at`, [leadId])).map((row) => row.template);
const timeline = async (leadId: string) => ((await t.api.get(`/api/leads/${leadId}/timeline`).set(t.auth).expect(200)).body.items as Array<{ type: string; properties: Record<string, unknown> }>);

describe('split steps', () => {
  it('sends each lead down the arm its hash picks, and records it with the enrollment and in the timeline', async () => {
    const runner = runnerFor(FIFTY_FIFTY);
    const now = new Date();
    const leads: Array<{ leadId: string; enrollmentId: string }> = [];
    for (let index = 0; index < 6; index++) {
      const leadId = await leadWhere(() => true);
      leads.push({ leadId, enrollmentId: await enroll(runner, 'ab', leadId, now) });
    }
    await drive(runner, now);
    for (const { leadId, enrollmentId } of leads) {
      const arm = armForLead(leadId, 'ab', 'subject-test', ARMS_50_50);
      expect(await assignmentOf(leadId, 'ab', 'subject-test')).toEqual({ arm_id: arm, enrollment_id: enrollmentId });
      expect(await sentTemplates(leadId)).toEqual([arm === 'short' ? 'welcome' : 'case-study']);
      expect((await timeline(leadId)).filter((event) => event.type === 'baton_split_assigned').map((event) => event.properties))
        .toEqual([{ sequenceId: 'ab', stepId: 'subject-test', arm, source: 'hash' }]);
    }
  });

  it('keeps a lead\'s arm after a restart with edited weights, and gives it a new one only when its arm was removed', async () => {
    // A lead the old weights send short and the new ones would send long.
    const leadId = await leadWhere((id) => armForLead(id, 'ab', 'subject-test', ARMS_50_50) === 'short'
      && armForLead(id, 'ab', 'subject-test', [{ id: 'short', weight: 1 }, { id: 'long', weight: 99 }]) === 'long');
    const start = new Date();
    await drive(runnerFor(FIFTY_FIFTY), start);
    await enroll(runnerFor(FIFTY_FIFTY), 'ab', leadId, start);
    await drive(runnerFor(FIFTY_FIFTY), start);
    expect((await assignmentOf(leadId, 'ab', 'subject-test'))?.arm_id).toBe('short');

    // A new process with the edited file: the lead re-enters (re-entry after 1s) and keeps short.
    const later = new Date(start.getTime() + 2_000);
    const edited = runnerFor(ONE_TO_99);
    const second = await enroll(edited, 'ab', leadId, later);
    await drive(edited, later);
    expect(await sentTemplates(leadId)).toEqual(['welcome', 'welcome']);
    expect((await assignmentOf(leadId, 'ab', 'subject-test'))?.arm_id).toBe('short');
    expect(await query('select status from enrollments where id = $1', [second])).toEqual([{ status: 'completed' }]);

    // Short removed from the file: the hash over the arms left decides, and the row says so.
    const latest = new Date(start.getTime() + 4_000);
    const removed = runnerFor(SHORT_REMOVED);
    const third = await enroll(removed, 'ab', leadId, latest);
    await drive(removed, latest);
    const arm = armForLead(leadId, 'ab', 'subject-test', [{ id: 'long', weight: 50 }, { id: 'medium', weight: 50 }]);
    expect(await assignmentOf(leadId, 'ab', 'subject-test')).toEqual({ arm_id: arm, enrollment_id: third });
    expect((await sentTemplates(leadId))[2]).toBe(arm === 'long' ? 'case-study' : 'roi-calculator');
  });

  it('sends leads without an assignment to a recorded winner, and leaves assigned ones where they are', async () => {
    const runner = runnerFor(FIFTY_FIFTY);
    const now = new Date();
    const assigned = await leadWhere((id) => armForLead(id, 'ab', 'subject-test', ARMS_50_50) === 'short');
    await enroll(runner, 'ab', assigned, now);
    await drive(runner, now);
    await query(`insert into experiment_winners (sequence_id, step_id, arm_id, metric, probability, figures) values ('ab', 'subject-test', 'long', 'click', 0.97, '{}')
      on conflict (sequence_id, step_id) do update set arm_id = excluded.arm_id`);
    try {
      const fresh = await leadWhere((id) => armForLead(id, 'ab', 'subject-test', ARMS_50_50) === 'short');
      const enrollmentId = await enroll(runner, 'ab', fresh, now);
      const later = new Date(now.getTime() + 2_000);
      await enroll(runner, 'ab', assigned, later);
      await drive(runner, later);
      expect(await assignmentOf(fresh, 'ab', 'subject-test')).toEqual({ arm_id: 'long', enrollment_id: enrollmentId });
      expect(await sentTemplates(fresh)).toEqual(['case-study']);
      expect(await sentTemplates(assigned)).toEqual(['welcome', 'welcome']);
      expect((await timeline(fresh)).find((event) => event.type === 'baton_split_assigned')?.properties).toMatchObject({ arm: 'long', source: 'winner' });
    } finally {
      await query(`delete from experiment_winners where sequence_id = 'ab'`);
    }
  });
});

describe('holdout', () => {
  it('sends a held-out lead no email of the sequence, yet walks it, records the group, and converts it on its goal', async () => {
    const runner = runnerFor(HOLDOUT);
    await runner.prepare();
    const now = new Date();
    const held = await leadWhere((id) => holdoutArmForLead(id, 'held', 0.5) === 'holdout');
    const treated = await leadWhere((id) => holdoutArmForLead(id, 'held', 0.5) === 'treatment');
    const heldEnrollment = await enroll(runner, 'held', held, now);
    const treatedEnrollment = await enroll(runner, 'held', treated, now);
    expect(await assignmentOf(held, 'held', '$holdout')).toEqual({ arm_id: 'holdout', enrollment_id: heldEnrollment });
    expect(await assignmentOf(treated, 'held', '$holdout')).toEqual({ arm_id: 'treatment', enrollment_id: treatedEnrollment });

    await drive(runner, now);
    expect(await sentTemplates(held)).toEqual([]);
    expect(await query(`select count(*)::int as n from dev_mail m join leads l on l.email = any(m.envelope_to) where l.id = $1`, [held])).toEqual([{ n: 0 }]);
    expect(await query(`select count(*)::int as n from dev_mail m join leads l on l.email = any(m.envelope_to) where l.id = $1`, [treated])).toEqual([{ n: 1 }]);
    expect(await sentTemplates(treated)).toEqual(['welcome']);
    // Both walked on to the wait: the held-out lead as if the email had gone.
    expect(await query('select id, current_step, status from enrollments where id = any($1) order by id', [[heldEnrollment, treatedEnrollment]]))
      .toEqual([heldEnrollment, treatedEnrollment].sort().map((id) => ({ id, current_step: 'pause', status: 'active' })));
    expect((await timeline(held)).filter((event) => event.type === 'baton_email_held_out').map((event) => event.properties))
      .toEqual([{ sequenceId: 'held', stepId: 'hello', template: 'welcome' }]);

    // Its goal still counts: the demo request converts the enrollment.
    await t.api.post('/api/events').set(t.auth).send({ leadId: held, type: 'form_submit', properties: { form: 'demo' } }).expect(202);
    expect(await query('select status, exit_reason from enrollments where id = $1', [heldEnrollment])).toEqual([{ status: 'converted', exit_reason: 'goal form_submit' }]);
  });

  it('keeps a lead\'s holdout group when it enters again, even after the share changed', async () => {
    const runner = runnerFor(HOLDOUT);
    const now = new Date();
    const held = await leadWhere((id) => holdoutArmForLead(id, 'held', 0.5) === 'holdout' && holdoutArmForLead(id, 'held', 0.01) === 'treatment');
    const first = await enroll(runner, 'held', held, now);
    await query(`update enrollments set status = 'exited', exit_reason = 'by hand' where lead_id = $1`, [held]);
    const smaller = runnerFor(HOLDOUT.replace('holdout: 50%', 'holdout: 1%').replace('entry: { trigger: { type: manual } }', 'entry: { trigger: { type: manual }, reentry: { after: 1s } }'));
    const later = new Date(now.getTime() + 2_000);
    const second = await enroll(smaller, 'held', held, later);
    await drive(smaller, later);
    expect(await sentTemplates(held)).toEqual([]);
    // The row is the first decision's: the group was decided once, when the lead first entered.
    expect(await assignmentOf(held, 'held', '$holdout')).toEqual({ arm_id: 'holdout', enrollment_id: first });
    expect(await query('select current_step from enrollments where id = $1', [second])).toEqual([{ current_step: 'pause' }]);
  });
});
