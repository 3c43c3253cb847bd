import type { Lead } from '../leads/lead.js';
import { assertUnreachable } from '../platform/assert.js';
import { enqueueEmails } from '../sends/email-queue.repository.js';
import type { Sequence, Step } from '../sequences/sequence.js';
import { recordAssignment, storedArm, winningArm } from './assignments.repository.js';
import { endEnrollment, eventHappened, findEnrollment, moveToStep, type EnrollmentRow } from './enrollments.repository.js';
import type { Engine } from './engine.js';
import type { StepJob } from './sequence-runner.js';
import { decide, type Decision, type StepFacts } from './step-decider.js';

/*
 * Runs one step job (Agenda): reads the facts the decider needs, asks it, and carries out the
 * decision. Email steps are not sent here: their job hands them to the email queue, whose batches
 * email-dispatch.ts sends.
 */

interface Running {
  engine: Engine;
  job: StepJob;
  enrollment: EnrollmentRow;
  sequence: Sequence;
  step: Step | undefined;
  lead: Lead | null;
  now: Date;
}

export async function runStep(engine: Engine, job: StepJob, now: Date): Promise<void> {
  const { deps } = engine;
  const enrollment = await findEnrollment(deps.db, job.enrollmentId);
  // A stale job: the enrollment ended, or already moved past this step.
  if (!enrollment || enrollment.status !== 'active' || enrollment.current_step !== job.stepId) return;
  const sequence = engine.byId.get(enrollment.sequence_id);
  const step = engine.stepOf(sequence, job.stepId);
  if (!sequence) return park(engine, enrollment, `step ${job.stepId} no longer exists in ${enrollment.sequence_id}`);
  // An email step's job (left from before the email queue, or written by hand) hands it to the queue.
  if (step?.kind === 'email') return enqueueEmails(deps.db, [{ enrollmentId: enrollment.id, stepId: step.id, dueAt: now }]);
  const lead = step && sequence.status === 'active' ? await deps.leads.get(enrollment.lead_id) : null;
  const facts = await gatherFacts(engine, enrollment, sequence, step, lead, now);
  return apply({ engine, job, enrollment, sequence, step, lead, now }, decide(facts));
}

async function gatherFacts(
  engine: Engine,
  enrollment: EnrollmentRow,
  sequence: Sequence,
  step: Step | undefined,
  lead: Lead | null,
  now: Date,
): Promise<StepFacts> {
  const { db } = engine.deps;
  const standing = lead ? ((await engine.standingsOf([lead])).get(lead.id) ?? null) : null;
  // Only a branch reads engagement, and only a split its assignment: the other steps skip those reads.
  if (standing && step?.kind === 'branch') standing.conditions.engagement = await engine.engagementFor(enrollment.id);
  const goal = standing
    ? ((await engine.goalsReached([{ key: enrollment.id, leadId: enrollment.lead_id, sequence, since: enrollment.entered_at }])).get(enrollment.id) ?? null)
    : null;
  const split =
    standing && step?.kind === 'split'
      ? { stored: await storedArm(db, enrollment.lead_id, sequence.id, step.id), winner: await winningArm(db, sequence.id, step.id) }
      : { stored: null, winner: null };
  return {
    now,
    sequence,
    stepId: enrollment.current_step ?? '',
    step,
    enteredAt: enrollment.entered_at,
    stepEnteredAt: enrollment.step_entered_at,
    // Unread for a missing step or a paused sequence: the decider settles those before it looks at the lead.
    lead: standing,
    goalReached: goal,
    stepGoalReached:
      standing !== null && step?.kind === 'goal' && (await eventHappened(db, enrollment.lead_id, step.goal.event, step.goal.where, enrollment.step_entered_at)),
    heldOut: false,
    split,
  };
}

async function apply(run: Running, decision: Decision): Promise<void> {
  const { engine, job, enrollment, sequence, now } = run;
  const { deps } = engine;
  switch (decision.kind) {
    case 'park':
      return park(engine, enrollment, decision.reason);
    case 'exit':
      return endEnrollment(deps.db, enrollment.id, 'exited', decision.reason);
    case 'convert':
      return endEnrollment(deps.db, enrollment.id, 'converted', decision.reason);
    case 'end':
      return endEnrollment(deps.db, enrollment.id, 'completed', decision.reason);
    case 'wait':
      return deps.queue.schedule(decision.until, job);
    case 'advance':
      return advance(run, decision.to);
    case 'send':
      // Reached only if an email step's job got here: the queue sends it.
      return enqueueEmails(deps.db, [{ enrollmentId: enrollment.id, stepId: decision.step.id, dueAt: now }]);
    case 'updateLead': {
      const result = await deps.leads.update(enrollment.lead_id, { ...decision.patch, tags: decision.tags });
      if (result.kind !== 'updated')
        deps.logger.warn({ enrollmentId: enrollment.id, stepId: job.stepId, result: result.kind }, 'update_lead step could not update the lead');
      return advance(run, decision.then);
    }
    case 'callWebhook':
      return callWebhook(run, decision);
    case 'handOff': {
      const port = deps.handoff?.() ?? null;
      const outcome = port
        ? await port.handOverAtStep({
            leadId: enrollment.lead_id,
            sequence: { id: sequence.id, name: sequence.name },
            stepId: job.stepId,
            reason: decision.reason,
            now,
          })
        : { kind: 'not_handed_off' as const, reason: 'no sales team is configured (sales-team.yaml)' };
      // Handed off: the handoff's own transaction ended this enrollment with the lead's others.
      if (outcome.kind === 'handed_off') return;
      deps.logger.warn(
        { enrollmentId: enrollment.id, stepId: job.stepId, reason: outcome.reason },
        'handoff step did not hand the lead off; the enrollment goes on',
      );
      return advance(run, decision.then);
    }
    case 'split': {
      if (decision.record) {
        await recordAssignment(
          deps.db,
          { leadId: enrollment.lead_id, sequenceId: sequence.id, stepId: job.stepId, armId: decision.arm, enrollmentId: enrollment.id, at: now },
          true,
        );
        await engine.note([
          {
            leadId: enrollment.lead_id,
            type: 'baton_split_assigned',
            properties: { sequenceId: sequence.id, stepId: job.stepId, arm: decision.arm, source: decision.source },
            at: now,
          },
        ]);
      }
      return advance(run, decision.to);
    }
    default:
      return assertUnreachable(decision);
  }
}

async function park(engine: Engine, enrollment: EnrollmentRow, reason: string): Promise<void> {
  // The sequence was edited and this step is gone: park it for a person to look at, never drop it.
  await endEnrollment(engine.deps.db, enrollment.id, 'parked', reason);
  engine.deps.logger.warn({ enrollmentId: enrollment.id, stepId: enrollment.current_step }, 'enrollment parked: its step no longer exists');
}

async function advance(run: Running, to: string | null): Promise<void> {
  const { engine, enrollment, sequence, job, now } = run;
  if (!to) return endEnrollment(engine.deps.db, enrollment.id, 'completed', 'reached the end');
  if (await moveToStep(engine.deps.db, enrollment.id, job.stepId, to)) await engine.scheduleStep(sequence, { enrollmentId: enrollment.id, stepId: to }, now);
}

async function callWebhook(run: Running, decision: Extract<Decision, { kind: 'callWebhook' }>): Promise<void> {
  const { engine, job, enrollment, sequence, lead, now } = run;
  const { deps } = engine;
  const attempt = job.attempt ?? 0;
  const secret = deps.webhooks.secrets[decision.secret ?? ''];
  if (!secret || !lead) {
    // The start-up check refuses such files; a secret removed from the environment since lands here.
    return endEnrollment(deps.db, enrollment.id, 'parked', `webhook step ${job.stepId}: no secret ${decision.secret ?? 'BATON_WEBHOOK_SECRET'} is configured`);
  }
  const result = await deps.webhooks.sender.send({
    url: decision.url,
    // The same id on every retry: receivers dedupe on it.
    id: `msg_${enrollment.id}_${job.stepId}`,
    payload: webhookPayload(sequence, job.stepId, enrollment, lead, now),
    secrets: [secret],
  });
  if (result.kind === 'retry') {
    const delay = deps.webhooks.retryDelayMs(attempt + 1);
    if (delay !== null) return deps.queue.schedule(new Date(now.getTime() + Math.max(delay, result.retryAfterMs ?? 0)), { ...job, attempt: attempt + 1 });
  }
  if (result.kind !== 'delivered')
    deps.logger.warn(
      { enrollmentId: enrollment.id, stepId: job.stepId, url: decision.url, result, attempts: attempt + 1 },
      'webhook step not delivered; the enrollment goes on',
    );
  return advance(run, decision.then);
}

/** The body of a webhook step's POST (Standard Webhooks shape: type, timestamp, data). */
function webhookPayload(sequence: Sequence, stepId: string, enrollment: EnrollmentRow, lead: Lead, now: Date) {
  return {
    type: 'sequence.step',
    timestamp: now.toISOString(),
    data: {
      sequence: { id: sequence.id, name: sequence.name, version: sequence.version },
      step: { id: stepId },
      enrollment: { id: enrollment.id, enteredAt: enrollment.entered_at.toISOString() },
      lead: {
        id: lead.id,
        email: lead.email,
        firstName: lead.firstName,
        lastName: lead.lastName,
        company: lead.company,
        title: lead.title,
        country: lead.country,
        timezone: lead.timezone,
        tags: lead.tags,
        traits: lead.traits,
      },
    },
  };
}
