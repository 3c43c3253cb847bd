import type { Lead } from '../leads/lead.js';
import { retryDelayMs } from '../mail/smtp-replies.js';
import { insertJobs } from '../platform/scheduler.js';
import type { ChannelMessage } from '../sends/channel.js';
import type { SendGate } from '../sends/email-delivery.js';
import { deferEmails, dequeueEmails, enqueueEmails, leaseDueEmails, type QueuedEmail } from '../sends/email-queue.repository.js';
import { nextAllowedSend, type FrequencyCap } from '../sends/frequency-cap.js';
import { nextInWindow } from '../sequences/local-time.js';
import type { EmailStep, Sequence, Step } from '../sequences/sequence.js';
import { stepZone } from '../sequences/step-plan.js';
import { heldOutKey, heldOutPairs } from './assignments.repository.js';
import { activeEnrollmentsOf, endEnrollments, findEnrollments, moveEnrollments, type EnrollmentRow } from './enrollments.repository.js';
import type { Engine } from './engine.js';
import { markSendsInterrupted, recentMarketingSendsOf } from '../sends/sends.repository.js';
import { STEP_JOB, type StepJob } from './sequence-runner.js';
import { arrival, decide } from './step-decider.js';

/*
 * Sends the email queue in batches: the rows a worker leased are read together, each is decided
 * (exit, convert, hold for the send window, held out, send), the sends go through the channel as
 * one batch, and the enrollments move on, all with a handful of queries per batch.
 */

/** A lower-priority email waiting for a competing higher-priority one looks again this often. */
const YIELD_RECHECK_MS = 60_000;
/**
 * How long a worker owns the email rows it leased. A batch takes well under a second; a worker
 * that dies leaves its rows to others once this passes (the ledger stops a second send).
 */
const EMAIL_LEASE_MS = 60_000;
/** Waits ending later than this are written straight into Agenda's table, which it polls every 5 s. */
const AGENDA_POLL_WINDOW_MS = 15_000;

type Ending = { id: string; status: 'completed' | 'converted' | 'exited' | 'parked'; reason: string };
interface Moving {
  row: QueuedEmail;
  sequence: Sequence;
  step: EmailStep;
  lead: Lead;
  then: string | null;
}

export async function dispatchDueEmails(engine: Engine, worker: string, limit: number, now: Date): Promise<number> {
  const rows = await leaseDueEmails(engine.deps.db, worker, limit, EMAIL_LEASE_MS);
  if (rows.length > 0) await runEmailBatch(engine, rows, now);
  return rows.length;
}

export async function runEmailBatch(engine: Engine, rows: QueuedEmail[], now: Date): Promise<void> {
  const { deps } = engine;
  const enrollments = await findEnrollments(
    deps.db,
    rows.map((row) => row.enrollmentId),
  );
  const done: QueuedEmail[] = [];
  const deferred: Array<QueuedEmail & { dueAt: Date }> = [];
  const ends: Ending[] = [];
  const live: Array<{ row: QueuedEmail; enrollment: EnrollmentRow; sequence: Sequence; step: EmailStep | undefined }> = [];
  for (const row of rows) {
    const enrollment = enrollments.get(row.enrollmentId);
    // Stale: the enrollment ended, or moved on (an unsubscribe, a handoff, a goal elsewhere).
    if (!enrollment || enrollment.status !== 'active' || enrollment.current_step !== row.stepId) {
      done.push(row);
      continue;
    }
    const sequence = engine.byId.get(enrollment.sequence_id);
    const step = engine.stepOf(sequence, row.stepId);
    if (!sequence) {
      ends.push({ id: enrollment.id, status: 'parked', reason: `step ${row.stepId} no longer exists in ${enrollment.sequence_id}` });
      done.push(row);
    } else if (step && step.kind !== 'email') {
      // An edit made this step something else: Agenda runs it.
      await deps.queue.schedule(now, row);
      done.push(row);
    } else {
      live.push({ row, enrollment, sequence, step });
    }
  }

  // The facts of the whole batch, read together.
  const leads = await deps.leads.getMany(live.map(({ enrollment }) => enrollment.lead_id));
  const standings = await engine.standingsOf([...leads.values()]);
  const goals = await engine.goalsReached(
    live.map(({ enrollment, sequence }) => ({ key: enrollment.id, leadId: enrollment.lead_id, sequence, since: enrollment.entered_at })),
  );
  const heldOut = await heldOutPairs(
    deps.db,
    live.filter(({ sequence }) => sequence.holdout > 0).map(({ enrollment }) => ({ leadId: enrollment.lead_id, sequenceId: enrollment.sequence_id })),
  );

  const sending: Moving[] = [];
  const advancing: Moving[] = [];
  const notes: Parameters<Engine['note']>[0] = [];
  for (const { row, enrollment, sequence, step } of live) {
    const lead = leads.get(enrollment.lead_id);
    const decision = decide({
      now,
      sequence,
      stepId: row.stepId,
      step,
      enteredAt: enrollment.entered_at,
      stepEnteredAt: enrollment.step_entered_at,
      lead: standings.get(enrollment.lead_id) ?? null,
      goalReached: goals.get(enrollment.id) ?? null,
      stepGoalReached: false,
      heldOut: heldOut.has(heldOutKey(enrollment.lead_id, enrollment.sequence_id)),
      split: { stored: null, winner: null },
    });
    switch (decision.kind) {
      case 'park':
        deps.logger.warn({ enrollmentId: enrollment.id, stepId: row.stepId }, 'enrollment parked: its step no longer exists');
        ends.push({ id: enrollment.id, status: 'parked', reason: decision.reason });
        done.push(row);
        break;
      case 'exit':
      case 'convert':
        ends.push({ id: enrollment.id, status: decision.kind === 'exit' ? 'exited' : 'converted', reason: decision.reason });
        done.push(row);
        break;
      case 'wait':
        deferred.push({ ...row, dueAt: decision.until });
        break;
      case 'send':
        if (lead) sending.push({ row, sequence, step: decision.step, lead, then: decision.then });
        break;
      case 'advance':
        // Held out: the lead walks on without the email, and its timeline says so.
        if (lead && step?.kind === 'email') advancing.push({ row, sequence, step, lead, then: decision.to });
        notes.push({
          leadId: enrollment.lead_id,
          type: 'baton_email_held_out',
          properties: { sequenceId: sequence.id, stepId: row.stepId, template: step?.kind === 'email' ? step.email.template : null },
          at: now,
        });
        break;
      default:
        // An email step decides none of the others; were it to, Agenda's runner handles every decision.
        await deps.queue.schedule(now, row);
        done.push(row);
    }
  }
  await engine.note(notes);

  const messages: ChannelMessage[] = sending.map(({ row, sequence, step, lead }) => ({
    enrollmentId: row.enrollmentId,
    lead,
    sequence: { id: sequence.id, name: sequence.name },
    stepId: step.id,
    content: { template: step.email.template, subject: step.email.subject, from: step.email.from },
  }));
  const outcomes =
    messages.length > 0
      ? await engine.channel.sendMany(messages, {
          gate: deps.frequencyCap ? emailGate(engine, deps.frequencyCap, now) : undefined,
          // A claim older than a lease was made by a worker whose lease ran out: it died.
          takeOverBefore: new Date(now.getTime() - EMAIL_LEASE_MS),
        })
      : [];
  const abandoned: string[] = [];
  outcomes.forEach((outcome, position) => {
    const item = sending[position];
    if (!item) return;
    const later = (ms: number) => deferred.push({ ...item.row, dueAt: new Date(now.getTime() + ms) });
    switch (outcome.kind) {
      case 'held':
        deferred.push({ ...item.row, dueAt: outcome.until });
        return;
      case 'retry_later':
        // Nothing went out; try the same step again later (when the feedback policy says, if set).
        return outcome.retryAt ? void deferred.push({ ...item.row, dueAt: outcome.retryAt }) : later(retryDelayMs(1) ?? 60_000);
      case 'sender_blocked':
        // A blocked sender needs a person: wait longer.
        return later(30 * 60_000);
      case 'skipped':
        ends.push({ id: item.row.enrollmentId, status: 'exited', reason: `email skipped: ${outcome.reason}` });
        done.push(item.row);
        return;
      case 'bounced':
        ends.push({ id: item.row.enrollmentId, status: 'exited', reason: 'hard bounce' });
        done.push(item.row);
        return;
      case 'already_handled':
        if (outcome.status === 'claimed') {
          // Claimed longer ago than a lease lasts and handed to SMTP (an unhanded one would have
          // been taken over): the worker that claimed it died mid-send, or its lease would still
          // hold this row. The email may or may not have gone: it is marked unknown, never
          // resent, and the enrollment goes on.
          if (outcome.claimedAt.getTime() < now.getTime() - EMAIL_LEASE_MS) {
            abandoned.push(outcome.sendId);
            advancing.push(item);
            return;
          }
          // Another worker is mid-send: its outcome decides what comes next.
          return later(EMAIL_LEASE_MS);
        }
        advancing.push(item);
        return;
      default:
        advancing.push(item);
    }
  });
  if (abandoned.length > 0)
    deps.logger.warn({ count: abandoned.length }, 'sends abandoned mid-delivery by a worker that died are marked unknown and will not be resent');
  await markSendsInterrupted(deps.db, abandoned);
  await finishEmailBatch(engine, advancing, ends, done, now);
  await deferEmails(deps.db, deferred);
}

/**
 * The frequency cap and priorities, checked under the leads' locks: a lead at the cap waits
 * until a slot frees; a lead whose higher-priority sequence has an email due now lets it go
 * first. Transactional email is never held. An email let through counts against the lead's
 * later emails in the same batch.
 */
function emailGate(engine: Engine, cap: FrequencyCap, now: Date): SendGate {
  const { deps, byId } = engine;
  return async (trx, candidates) => {
    const leadIds = candidates.filter((candidate) => candidate.marketing).map((candidate) => candidate.input.leadId);
    const recent = groupBy(await recentMarketingSendsOf(trx, leadIds, new Date(now.getTime() - cap.windowMs)), (row) => row.lead_id);
    const active = groupBy(await activeEnrollmentsOf(trx, leadIds), (row) => row.lead_id);
    const letThrough = new Map<string, Date[]>();
    return candidates.map(({ input, marketing }) => {
      if (!marketing) return null;
      const sends = (recent.get(input.leadId) ?? [])
        // The step asking is left out: a re-run of a step that already sent is not held by itself.
        .filter((row) => row.enrollment_id !== input.enrollmentId || row.step_id !== input.stepId)
        .map((row) => row.claimed_at)
        .concat(letThrough.get(input.leadId) ?? []);
      const capped = nextAllowedSend(cap, sends, now);
      if (capped) return capped;
      const sequence = byId.get(input.sequence.id);
      const leadZone = input.lead?.timezone ?? null;
      const outranked = (active.get(input.leadId) ?? []).some((other) => {
        if (other.id === input.enrollmentId) return false;
        const rival = byId.get(other.sequence_id);
        const rivalStep = engine.stepOf(rival, other.current_step ?? '');
        return (
          rival !== undefined &&
          sequence !== undefined &&
          rival.status === 'active' &&
          rival.priority > sequence.priority &&
          rivalStep?.kind === 'email' &&
          deps.isMarketing(rivalStep.email.template) &&
          // A rival outside its own send window is not due: it does not hold this one back.
          (!rival.sendWindow || nextInWindow(now, rival.sendWindow, leadZone ?? rival.sendWindow.timezone).getTime() <= now.getTime())
        );
      });
      if (outranked) return new Date(now.getTime() + YIELD_RECHECK_MS);
      letThrough.set(input.leadId, [...(letThrough.get(input.leadId) ?? []), now]);
      return null;
    });
  };
}

/**
 * After a batch: enrollments that ended leave, sent (or held-out) ones move to their next step,
 * and the queue follows, all in one transaction. Where the next step goes is arrival()'s answer:
 * the email queue, an Agenda job (written straight into its table when due later than its poll),
 * or the end; jobs due soon go through Agenda after the commit, which wakes a worker for them.
 */
async function finishEmailBatch(engine: Engine, advancing: Moving[], ends: Ending[], done: QueuedEmail[], now: Date): Promise<void> {
  const { deps } = engine;
  const dueSoon: Array<{ at: Date; job: StepJob }> = [];
  await deps.db.transaction().execute(async (trx) => {
    const moves: Array<{ id: string; from: string; to: string; next: Step; sequence: Sequence; lead: Lead }> = [];
    for (const { row, sequence, step, lead, then } of advancing) {
      const next = then ? engine.stepOf(sequence, then) : undefined;
      if (next) moves.push({ id: row.enrollmentId, from: step.id, to: next.id, next, sequence, lead });
      else ends.push({ id: row.enrollmentId, status: 'completed', reason: 'reached the end' });
    }
    const moved = await moveEnrollments(trx, moves);
    const emails: Array<QueuedEmail & { dueAt: Date }> = [];
    const waits: Array<{ at: Date; data: StepJob }> = [];
    for (const move of moves.filter((candidate) => moved.has(candidate.id))) {
      const job = { enrollmentId: move.id, stepId: move.to };
      const next = arrival(move.next, now, stepZone(move.sequence, move.lead.timezone));
      if (next.kind === 'email_queue') emails.push({ ...job, dueAt: now });
      else if (next.kind === 'end') ends.push({ id: move.id, status: 'completed', reason: next.reason });
      // Agenda polls every few seconds: only a job due later than that may skip its wake-up.
      else if (next.at.getTime() - now.getTime() > AGENDA_POLL_WINDOW_MS) waits.push({ at: next.at, data: job });
      else dueSoon.push({ at: next.at, job });
    }
    await endEnrollments(trx, ends);
    await dequeueEmails(trx, [...done, ...advancing.map(({ row }) => row)]);
    await enqueueEmails(trx, emails);
    await insertJobs(trx, STEP_JOB, waits);
  });
  for (const { at, job } of dueSoon) await deps.queue.schedule(at, job);
}

function groupBy<Row>(rows: Row[], keyOf: (row: Row) => string): Map<string, Row[]> {
  const groups = new Map<string, Row[]>();
  for (const row of rows) {
    const key = keyOf(row);
    const group = groups.get(key);
    if (group) group.push(row);
    else groups.set(key, [row]);
  }
  return groups;
}
