import type { Kysely } from 'kysely';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database, LifecycleStage } from '../platform/db/schema.js';
import { isWithSales } from '../scoring/lifecycle.js';
import type { Logger } from '../platform/logger.js';
import { retryDelayMs } from '../mail/smtp-replies.js';
import type { EmailDelivery, EmailStepInput, SendGate } from '../sends/email-delivery.js';
import { deferEmails, dequeueEmails, enqueueEmails, leaseDueEmails, type QueuedEmail } from '../sends/email-queue.repository.js';
import { insertJobs } from '../platform/scheduler.js';
import { evaluateCondition, type LeadFacts, type StepEngagement } from '../sequences/conditions.js';
import { parseDuration } from '../sequences/duration.js';
import { nextInWindow } from '../sequences/local-time.js';
import type { EmailStep, Sequence, Step } from '../sequences/sequence.js';
import { branchTarget, emailDueAt, goalPlan, nextStepId, stepZone, waitEndsAt } from '../sequences/step-plan.js';
import { fieldsByFileName, LEAD_KEY_OF_FIELD, type LeadFieldName } from '../sequences/lead-fields.js';
import { nextAllowedSend, type FrequencyCap } from '../sends/frequency-cap.js';
import { markInterruptedSends, markSendsInterrupted, recentMarketingSendsOf } from '../sends/sends.repository.js';
import { goalInterests, sequencesStartedBy, triggerInterests, type LeadChange } from '../sequences/triggers.js';
import {
  activeEnrollmentsOf, activePositions, drainTriggerQueue, endEnrollment, endEnrollments, engagementOf, eventHappened, eventsHappened, findEnrollment,
  findEnrollments, insertEnrollment, lastEnrollment, moveEnrollments, moveToStep, orphanedEnrollments, parkAt, registerTriggerInterests, replaceSequenceGoals, repin, type EnrollmentRow,
} from './enrollments.repository.js';

/*
 * Runs sequences: enrolls leads and executes steps. Agenda decides when a step runs, one job per
 * step, except email steps: those wait in the email queue, and workers lease and send them in
 * batches (dispatchDueEmails), since a job per email costs more than the email (docs/architecture.md).
 * A step that is stale (the enrollment moved on, or ended) does nothing, and email steps go
 * through the send ledger, so a step that runs twice never acts twice.
 *
 * Automatic triggers arrive through the database's trigger queue (see migrations 0005 and 0012):
 * the runner leases the changes its content listens to, and enrolls. The frequency cap and
 * priorities are checked under a per-lead lock in the transaction that claims an email's ledger row.
 */

export const STEP_JOB = 'sequence-step';

export interface StepJob {
  enrollmentId: string;
  stepId: string;
  /** Delivery attempts of a webhook step so far. */
  attempt?: number;
}

export interface JobQueue {
  schedule(at: Date, job: StepJob): Promise<void>;
}

export type EnrollOutcome =
  | { kind: 'enrolled'; enrollment: EnrollmentRow }
  | { kind: 'already_enrolled' }
  | { kind: 'not_eligible'; reason: string }
  | { kind: 'unknown_sequence' }
  | { kind: 'unknown_lead' };

export interface ReconcileReport {
  /** Active enrollments moved onto an edited sequence file, by sequence id. */
  repinned: Record<string, number>;
  /** Active enrollments parked because their step or sequence is gone, with the reason. */
  parked: Array<{ sequenceId: string; stepId: string | null; count: number; reason: string }>;
}

export interface SequenceRunner {
  sequences(): Sequence[];
  enroll(sequenceId: string, leadId: string, now: Date): Promise<EnrollOutcome>;
  runStep(job: StepJob, now: Date): Promise<void>;
  /** Leases up to `limit` due emails for `worker` and sends them as one batch; returns how many it leased. */
  dispatchDueEmails(worker: string, limit: number, now: Date): Promise<number>;
  /** Runs email steps of the queue as one batch (dispatchDueEmails, once the rows are leased). */
  runEmailBatch(rows: QueuedEmail[], now: Date): Promise<void>;
  /** Worker start: reconciles enrollments with edited files. */
  prepare(): Promise<ReconcileReport>;
  /**
   * Every role, at start and every minute: tells the database which changes to queue for this
   * content's triggers, queueing the last hour's changes for a trigger it did not know yet.
   */
  registerTriggers(now: Date): Promise<void>;
  /** Enrolls leads for queued changes `worker` leases; returns how many changes it handled (0: none to take). */
  processTriggers(worker: string, now: Date, limit?: number): Promise<number>;
  /** Marks sends whose process died mid-send as unknown; returns how many. */
  sweepInterruptedSends(now: Date): Promise<number>;
  /** Schedules a job for active enrollments left without one by a crash; returns how many. */
  rescheduleOrphans(now: Date): Promise<number>;
}

/** What a webhook step needs of the webhook sender (src/webhooks). */
export interface WebhookPort {
  send(input: { url: string; id: string; payload: unknown; secrets: string[] }): Promise<WebhookResult>;
}

export type WebhookResult =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status?: number; retryAfterMs?: number; reason: string }
  | { kind: 'gone' | 'failed'; status: number; reason?: string }
  | { kind: 'refused'; reason: string };

/** A lead's stored score and stage (lead_scores), null when it was never scored. */
async function scoreStanding(db: Kysely<Database>, leadId: string): Promise<{ total: number; stage: LifecycleStage } | null> {
  return (await db.selectFrom('lead_scores').select(['total', 'stage']).where('lead_id', '=', leadId).executeTakeFirst()) ?? null;
}

async function scoreStandings(db: Kysely<Database>, leadIds: string[]): Promise<Map<string, { total: number; stage: LifecycleStage }>> {
  if (leadIds.length === 0) return new Map();
  const rows = await db.selectFrom('lead_scores').select(['lead_id', 'total', 'stage']).where('lead_id', 'in', leadIds).execute();
  return new Map(rows.map((row) => [row.lead_id, row]));
}

export interface RunnerDeps {
  db: Kysely<Database>;
  leads: LeadsService;
  delivery: EmailDelivery;
  queue: JobQueue;
  logger: Logger;
  sequences: Sequence[];
  /** Whether a template is marketing email (counts against the cap) rather than transactional. */
  isMarketing: (template: string) => boolean;
  frequencyCap: FrequencyCap | null;
  /** `retryDelayMs(n)`: the wait after failed attempt n (1 is the first), null to give up. */
  webhooks: { sender: WebhookPort; secrets: Record<string, string>; retryDelayMs: (attempt: number) => number | null };
}

/** A claim older than this whose process never recorded the SMTP answer died mid-send. */
const INTERRUPTED_AFTER_MS = 10 * 60_000;
/** An active enrollment with no pending job for this long was stranded by a crash. */
const ORPHAN_AFTER_MS = 60_000;
/** A paused sequence's enrollments look again this often. */
const PAUSED_RECHECK_MS = 15 * 60_000;
/** A lower-priority email waiting for a competing higher-priority one looks again this often. */
const YIELD_RECHECK_MS = 60_000;
/**
 * How long a worker owns the email rows it leased. A batch takes well under a second; a worker
 * that dies leaves its rows to others once this passes (the ledger stops a second send).
 */
const EMAIL_LEASE_MS = 60_000;
/** How long a worker's lease on queued trigger changes lasts; renewed while it works, so a killed worker's rows wait at most this. */
const TRIGGER_LEASE_MS = 15_000;
/** A trigger new to the database has the changes of this last stretch queued for it (docs/architecture.md). */
const TRIGGER_REPLAY_MS = 60 * 60_000;
/** An interest no process refreshed for this long (every process does every minute) is dropped. */
const TRIGGER_INTEREST_TTL_MS = 60 * 60_000;
/** Waits ending later than this are written straight into Agenda's table, which it polls every 5 s. */
const AGENDA_POLL_WINDOW_MS = 15_000;

/** What conditions see of a lead; `score` is its stored total, null while it has none (no scoring). */
function leadFacts(lead: Lead, engagement: Record<string, StepEngagement>, score: number | null = null): LeadFacts {
  return { fields: fieldsByFileName(lead), traits: lead.traits, tags: lead.tags, score, engagement };
}

export function createSequenceRunner(deps: RunnerDeps): SequenceRunner {
  const byId = new Map(deps.sequences.map((sequence) => [sequence.id, sequence]));
  const interests = triggerInterests(deps.sequences);

  /** Opens and clicks by people on each email step the enrollment has sent. */
  async function engagementFor(enrollmentId: string): Promise<Record<string, StepEngagement>> {
    const engagement: Record<string, StepEngagement> = {};
    for (const row of await engagementOf(deps.db, enrollmentId)) {
      const entry = (engagement[row.step_id] ??= { sentAt: row.sent_at, humanOpens: [], humanClicks: [] });
      if (row.type === 'email_opened' && row.occurred_at) entry.humanOpens.push(row.occurred_at);
      if (row.type === 'email_clicked' && row.occurred_at) entry.humanClicks.push(row.occurred_at);
    }
    return engagement;
  }

  async function advance(sequence: Sequence, enrollment: EnrollmentRow, step: Step, now: Date, target?: string): Promise<void> {
    const next = nextStepId(sequence, step, target);
    if (!next) {
      await endEnrollment(deps.db, enrollment.id, 'completed', 'reached the end');
      return;
    }
    if (await moveToStep(deps.db, enrollment.id, step.id, next)) await scheduleStep(sequence, { enrollmentId: enrollment.id, stepId: next }, now);
  }

  /** Email steps go to the email queue, every other step to Agenda. */
  async function scheduleStep(sequence: Sequence | undefined, job: StepJob, at: Date): Promise<void> {
    const step = sequence?.steps.find((candidate) => candidate.id === job.stepId);
    if (step?.kind === 'email') await enqueueEmails(deps.db, [{ enrollmentId: job.enrollmentId, stepId: job.stepId, dueAt: at }]);
    else await deps.queue.schedule(at, job);
  }

  /**
   * The frequency cap and priorities, checked under the leads' locks: a lead at the cap waits
   * until a slot frees; a lead whose higher-priority sequence has an email due now lets it go
   * first. Transactional email is never held. An email let through counts against the lead's
   * later emails in the same batch.
   */
  function emailGate(cap: FrequencyCap, now: Date): SendGate {
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
          const rivalStep = rival?.steps.find((candidate) => candidate.id === other.current_step);
          return rival !== undefined && sequence !== undefined && rival.status === 'active' && rival.priority > sequence.priority
            && rivalStep?.kind === 'email' && deps.isMarketing(rivalStep.email.template)
            // A rival outside its own send window is not due: it does not hold this one back.
            && (!rival.sendWindow || nextInWindow(now, rival.sendWindow, leadZone ?? rival.sendWindow.timezone).getTime() <= now.getTime());
        });
        if (outranked) return new Date(now.getTime() + YIELD_RECHECK_MS);
        letThrough.set(input.leadId, [...(letThrough.get(input.leadId) ?? []), now]);
        return null;
      });
    };
  }

  /**
   * After a batch: enrollments that ended leave, sent ones move to their next step, and the queue
   * follows, all in one transaction. The next step is scheduled as it comes: an email into the
   * queue, a wait as an Agenda job at its end, an end step closes the enrollment; other steps
   * and short waits go to Agenda after the commit, which wakes a worker for them.
   */
  async function finishEmailBatch(
    advancing: Array<{ row: QueuedEmail; sequence: Sequence; step: EmailStep; lead: Lead }>,
    ends: Array<{ id: string; status: 'completed' | 'converted' | 'exited' | 'parked'; reason: string }>,
    done: QueuedEmail[],
    now: Date,
  ): Promise<void> {
    const dueSoon: Array<{ at: Date; job: StepJob }> = [];
    await deps.db.transaction().execute(async (trx) => {
      const moves: Array<{ id: string; from: string; to: string; next: Step; sequence: Sequence; lead: Lead }> = [];
      for (const { row, sequence, step, lead } of advancing) {
        const nextId = nextStepId(sequence, step);
        const next = nextId ? sequence.steps.find((candidate) => candidate.id === nextId) : undefined;
        if (next) moves.push({ id: row.enrollmentId, from: step.id, to: next.id, next, sequence, lead });
        else ends.push({ id: row.enrollmentId, status: 'completed', reason: 'reached the end' });
      }
      const moved = await moveEnrollments(trx, moves);
      const emails: Array<QueuedEmail & { dueAt: Date }> = [];
      const waits: Array<{ at: Date; data: StepJob }> = [];
      for (const move of moves.filter((candidate) => moved.has(candidate.id))) {
        const job = { enrollmentId: move.id, stepId: move.to };
        const waitEnd = move.next.kind === 'wait' ? waitEndsAt(move.next, now, stepZone(move.sequence, move.lead.timezone)) : now;
        if (move.next.kind === 'email') emails.push({ ...job, dueAt: now });
        else if (move.next.kind === 'end') ends.push({ id: move.id, status: 'completed', reason: 'end step' });
        // Agenda polls every few seconds: only a job due later than that may skip its wake-up.
        else if (waitEnd.getTime() - now.getTime() > AGENDA_POLL_WINDOW_MS) waits.push({ at: waitEnd, data: job });
        else dueSoon.push({ at: waitEnd, job });
      }
      await endEnrollments(trx, ends);
      await dequeueEmails(trx, [...done, ...advancing.map(({ row }) => row)]);
      await enqueueEmails(trx, emails);
      await insertJobs(trx, STEP_JOB, waits);
    });
    for (const { at, job } of dueSoon) await deps.queue.schedule(at, job);
  }

  const runner: SequenceRunner = {
    sequences: () => deps.sequences,

    async registerTriggers(now) {
      const added = await registerTriggerInterests(deps.db, interests, new Date(now.getTime() - TRIGGER_REPLAY_MS), new Date(now.getTime() - TRIGGER_INTEREST_TTL_MS));
      if (added.length > 0) deps.logger.info({ triggers: added }, 'triggers new to the database: the changes of the last hour are queued for them');
    },

    async prepare() {
      // Goals are reached in the transaction of their event (migration 0009), not when a step runs.
      await replaceSequenceGoals(deps.db, goalInterests(deps.sequences));
      const report: ReconcileReport = { repinned: {}, parked: [] };
      const positions = await activePositions(deps.db);
      for (const sequenceId of new Set(positions.map((position) => position.sequence_id))) {
        const sequence = byId.get(sequenceId);
        if (!sequence) {
          const reason = `sequence ${sequenceId} no longer exists`;
          const count = await parkAt(deps.db, sequenceId, null, reason);
          if (count > 0) report.parked.push({ sequenceId, stepId: null, count, reason });
          continue;
        }
        const stepIds = new Set(sequence.steps.map((step) => step.id));
        for (const position of positions.filter((candidate) => candidate.sequence_id === sequenceId)) {
          if (position.current_step !== null && stepIds.has(position.current_step)) continue;
          const reason = `step ${position.current_step ?? '(none)'} no longer exists in ${sequenceId} version ${sequence.version}`;
          const count = await parkAt(deps.db, sequenceId, position.current_step, reason);
          if (count > 0) report.parked.push({ sequenceId, stepId: position.current_step, count, reason });
        }
        const moved = await repin(deps.db, sequenceId, sequence.version, sequence.hash);
        if (moved.length > 0) report.repinned[sequenceId] = moved.length;
        // A wait or goal may have a new length: look again now (a job for the old time finds the
        // step already left, or simply re-checks the same deadline).
        const timed = new Set(sequence.steps.filter((step) => step.kind === 'wait' || step.kind === 'goal').map((step) => step.id));
        for (const enrollment of moved) {
          if (enrollment.current_step && timed.has(enrollment.current_step)) await deps.queue.schedule(new Date(), { enrollmentId: enrollment.id, stepId: enrollment.current_step });
        }
      }
      for (const parked of report.parked) deps.logger.warn(parked, 'enrollments parked: their step is gone from the edited sequence');
      for (const [sequenceId, count] of Object.entries(report.repinned)) deps.logger.info({ sequenceId, count, version: byId.get(sequenceId)?.version }, 'in-flight enrollments continue on the edited sequence at the same step ids');
      return report;
    },

    async processTriggers(worker, now, limit = 200) {
      return drainTriggerQueue(deps.db, worker, interests, limit, TRIGGER_LEASE_MS, async (rows, held) => {
        for (const row of rows) {
          // Another worker took the rest over (this one stalled past its lease): they are its now.
          if (!held(row.id)) break;
          const change: LeadChange = row.kind === 'event' ? { kind: 'event', type: row.key, properties: row.properties } : row.kind === 'tag_added' ? { kind: 'tag_added', tag: row.key } : { kind: 'lead_created' };
          for (const sequence of sequencesStartedBy(change, deps.sequences)) {
            const outcome = await runner.enroll(sequence.id, row.lead_id, now);
            if (outcome.kind === 'enrolled') deps.logger.debug({ sequenceId: sequence.id, leadId: row.lead_id, trigger: row.kind }, 'lead enrolled by trigger');
          }
        }
      });
    },

    async rescheduleOrphans(now) {
      const orphans = await orphanedEnrollments(deps.db, new Date(now.getTime() - ORPHAN_AFTER_MS), 1000);
      for (const orphan of orphans) await scheduleStep(byId.get(orphan.sequence_id), { enrollmentId: orphan.id, stepId: orphan.current_step }, now);
      if (orphans.length > 0) deps.logger.warn({ count: orphans.length }, 'enrollments left without a step job (a worker died between two writes) are scheduled again');
      return orphans.length;
    },

    async sweepInterruptedSends(now) {
      const count = await markInterruptedSends(deps.db, new Date(now.getTime() - INTERRUPTED_AFTER_MS));
      if (count > 0) deps.logger.warn({ count }, 'sends whose process died are marked: unknown when handed to SMTP (never resent), not_sent otherwise (sent on the next attempt)');
      return count;
    },

    async enroll(sequenceId, leadId, now) {
      const sequence = byId.get(sequenceId);
      if (!sequence) return { kind: 'unknown_sequence' };
      if (sequence.status !== 'active') return { kind: 'not_eligible', reason: 'the sequence is paused' };
      const lead = await deps.leads.get(leadId);
      if (!lead) return { kind: 'unknown_lead' };
      if (lead.unsubscribedAt) return { kind: 'not_eligible', reason: 'the lead has unsubscribed' };
      const standing = await scoreStanding(deps.db, leadId);
      if (standing && isWithSales(standing.stage)) return { kind: 'not_eligible', reason: `the lead is with sales (stage ${standing.stage})` };
      // Entry conditions cannot test engagement (the loader refuses it): no emails yet.
      const facts = leadFacts(lead, {}, standing?.total ?? null);
      if (!sequence.entry.conditions.every((condition) => evaluateCondition(condition, facts))) return { kind: 'not_eligible', reason: 'the entry conditions do not hold' };
      const previous = await lastEnrollment(deps.db, leadId, sequenceId);
      if (previous?.status === 'active') return { kind: 'already_enrolled' };
      if (previous) {
        const reentry = sequence.entry.reentry;
        if (reentry === 'never') return { kind: 'not_eligible', reason: 'the sequence does not allow re-entry' };
        const cooldown = parseDuration(reentry.after) ?? 0;
        if (previous.entered_at.getTime() + cooldown > now.getTime()) return { kind: 'not_eligible', reason: `re-entry is allowed ${reentry.after} after the last entry` };
      }
      const first = sequence.steps[0];
      if (!first) return { kind: 'not_eligible', reason: 'the sequence has no steps' };
      const enrollment = await insertEnrollment(deps.db, { leadId, sequenceId, version: sequence.version, hash: sequence.hash, firstStep: first.id });
      if (!enrollment) return { kind: 'already_enrolled' };
      await scheduleStep(sequence, { enrollmentId: enrollment.id, stepId: first.id }, now);
      return { kind: 'enrolled', enrollment };
    },

    async dispatchDueEmails(worker, limit, now) {
      const rows = await leaseDueEmails(deps.db, worker, limit, EMAIL_LEASE_MS);
      if (rows.length > 0) await runner.runEmailBatch(rows, now);
      return rows.length;
    },

    async runEmailBatch(rows, now) {
      const enrollments = await findEnrollments(deps.db, rows.map((row) => row.enrollmentId));
      const done: QueuedEmail[] = [];
      const deferred: Array<QueuedEmail & { dueAt: Date }> = [];
      const ends: Array<{ id: string; status: 'converted' | 'exited' | 'parked'; reason: string }> = [];
      const live: Array<{ row: QueuedEmail; enrollment: EnrollmentRow; sequence: Sequence; step: EmailStep }> = [];
      for (const row of rows) {
        const enrollment = enrollments.get(row.enrollmentId);
        // Stale: the enrollment ended, or moved on (an unsubscribe, a handoff, a goal elsewhere).
        if (!enrollment || enrollment.status !== 'active' || enrollment.current_step !== row.stepId) {
          done.push(row);
          continue;
        }
        const sequence = byId.get(enrollment.sequence_id);
        const step = sequence?.steps.find((candidate) => candidate.id === row.stepId);
        if (!sequence || !step) {
          deps.logger.warn({ enrollmentId: enrollment.id, stepId: row.stepId }, 'enrollment parked: its step no longer exists');
          ends.push({ id: enrollment.id, status: 'parked', reason: `step ${row.stepId} no longer exists in ${enrollment.sequence_id}` });
          done.push(row);
        } else if (step.kind !== 'email') {
          // An edit made this step something else: Agenda runs it.
          await deps.queue.schedule(now, row);
          done.push(row);
        } else if (sequence.status === 'paused') {
          deferred.push({ ...row, dueAt: new Date(now.getTime() + PAUSED_RECHECK_MS) });
        } else {
          live.push({ row, enrollment, sequence, step });
        }
      }

      const leads = await deps.leads.getMany(live.map(({ enrollment }) => enrollment.lead_id));
      const standings = await scoreStandings(deps.db, [...leads.keys()]);
      const goals = live.flatMap((item) => item.sequence.goals.map((goal) => ({ item, goal })));
      const reached = await eventsHappened(deps.db, goals.map(({ item, goal }) => ({ leadId: item.enrollment.lead_id, type: goal.event, where: goal.where, since: item.enrollment.entered_at })));
      const goalReached = new Map<string, string>();
      goals.forEach(({ item, goal }, position) => {
        if (reached.has(position) && !goalReached.has(item.enrollment.id)) goalReached.set(item.enrollment.id, `goal ${goal.event}`);
      });

      const sending: Array<{ row: QueuedEmail; sequence: Sequence; step: EmailStep; lead: Lead }> = [];
      for (const { row, enrollment, sequence, step } of live) {
        const lead = leads.get(enrollment.lead_id);
        const standing = lead ? standings.get(lead.id) : undefined;
        const exit = !lead ? 'the lead was erased'
          : lead.unsubscribedAt ? 'the lead unsubscribed'
            // An enrollment that slipped in while the lead was being handed off still leaves here.
            : standing && isWithSales(standing.stage) ? 'handed off to sales'
              : null;
        const goal = goalReached.get(enrollment.id);
        if (exit || goal || !lead) {
          ends.push(exit || !lead ? { id: enrollment.id, status: 'exited', reason: exit ?? 'the lead was erased' } : { id: enrollment.id, status: 'converted', reason: goal ?? 'goal' });
          done.push(row);
          continue;
        }
        const due = emailDueAt(sequence, now, stepZone(sequence, lead.timezone));
        if (due.getTime() > now.getTime()) deferred.push({ ...row, dueAt: due });
        else sending.push({ row, sequence, step, lead });
      }

      const inputs: EmailStepInput[] = sending.map(({ row, sequence, step, lead }) => ({
        enrollmentId: row.enrollmentId, leadId: lead.id, lead, sequence: { id: sequence.id, name: sequence.name }, stepId: step.id,
        template: step.email.template, subject: step.email.subject, from: step.email.from,
      }));
      const outcomes = inputs.length > 0 ? await deps.delivery.deliverMany(inputs, {
        gate: deps.frequencyCap ? emailGate(deps.frequencyCap, now) : undefined,
        // A claim older than a lease was made by a worker whose lease ran out: it died.
        takeOverBefore: new Date(now.getTime() - EMAIL_LEASE_MS),
      }) : [];
      const advancing: typeof sending = [];
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
      if (abandoned.length > 0) deps.logger.warn({ count: abandoned.length }, 'sends abandoned mid-delivery by a worker that died are marked unknown and will not be resent');
      await markSendsInterrupted(deps.db, abandoned);
      await finishEmailBatch(advancing, ends, done, now);
      await deferEmails(deps.db, deferred);
    },

    async runStep(job, now) {
      const enrollment = await findEnrollment(deps.db, job.enrollmentId);
      // A stale job: the enrollment ended, or already moved past this step.
      if (!enrollment || enrollment.status !== 'active' || enrollment.current_step !== job.stepId) return;
      const sequence = byId.get(enrollment.sequence_id);
      const step = sequence?.steps.find((candidate) => candidate.id === job.stepId);
      if (!sequence || !step) {
        // The sequence was edited and this step is gone: park it for a person to look at, never drop it.
        await endEnrollment(deps.db, enrollment.id, 'parked', `step ${job.stepId} no longer exists in ${enrollment.sequence_id}`);
        deps.logger.warn({ enrollmentId: enrollment.id, stepId: job.stepId }, 'enrollment parked: its step no longer exists');
        return;
      }
      // An email step's job (left from before the email queue, or written by hand) hands it to the queue.
      if (step.kind === 'email') return enqueueEmails(deps.db, [{ enrollmentId: enrollment.id, stepId: step.id, dueAt: now }]);
      // A paused sequence holds its enrollments where they are; they go on when it is active again.
      if (sequence.status === 'paused') return deps.queue.schedule(new Date(now.getTime() + PAUSED_RECHECK_MS), job);
      const lead = await deps.leads.get(enrollment.lead_id);
      if (!lead) return endEnrollment(deps.db, enrollment.id, 'exited', 'the lead was erased');
      if (lead.unsubscribedAt) return endEnrollment(deps.db, enrollment.id, 'exited', 'the lead unsubscribed');
      // An enrollment that slipped in while the lead was being handed off still leaves here.
      const standing = await scoreStanding(deps.db, lead.id);
      if (standing && isWithSales(standing.stage)) return endEnrollment(deps.db, enrollment.id, 'exited', 'handed off to sales');
      for (const goal of sequence.goals) {
        if (await eventHappened(deps.db, lead.id, goal.event, goal.where, enrollment.entered_at)) return endEnrollment(deps.db, enrollment.id, 'converted', `goal ${goal.event}`);
      }
      const zone = stepZone(sequence, lead.timezone);
      const later = (at: Date) => deps.queue.schedule(at, job);

      switch (step.kind) {
        case 'wait': {
          const until = waitEndsAt(step, enrollment.step_entered_at, zone);
          return until.getTime() > now.getTime() ? later(until) : advance(sequence, enrollment, step, now);
        }
        case 'branch': {
          const facts = leadFacts(lead, await engagementFor(enrollment.id), standing?.total ?? null);
          return advance(sequence, enrollment, step, now, branchTarget(step, facts));
        }
        case 'goal': {
          const reached = await eventHappened(deps.db, lead.id, step.goal.event, step.goal.where, enrollment.step_entered_at);
          const plan = goalPlan(step, enrollment.step_entered_at, now, reached);
          if (plan.kind === 'converted') return endEnrollment(deps.db, enrollment.id, 'converted', `goal ${step.goal.event}`);
          if (plan.kind === 'recheck') return later(plan.at);
          return advance(sequence, enrollment, step, now);
        }
        case 'update_lead': {
          const set = step.update_lead.set ?? {};
          const patch: Record<string, unknown> = Object.fromEntries(Object.entries(set).map(([field, value]) => [LEAD_KEY_OF_FIELD[field as LeadFieldName] ?? field, value === null ? null : String(value)]));
          const tags = [...lead.tags.filter((tag) => !(step.update_lead.remove_tags ?? []).includes(tag)), ...(step.update_lead.add_tags ?? []).filter((tag) => !lead.tags.includes(tag))];
          const result = await deps.leads.update(lead.id, { ...patch, tags });
          if (result.kind !== 'updated') deps.logger.warn({ enrollmentId: enrollment.id, stepId: step.id, result: result.kind }, 'update_lead step could not update the lead');
          return advance(sequence, enrollment, step, now);
        }
        case 'webhook': {
          const attempt = job.attempt ?? 0;
          const secret = deps.webhooks.secrets[step.webhook.secret ?? ''];
          if (!secret) {
            // The start-up check refuses such files; a secret removed from the environment since lands here.
            await endEnrollment(deps.db, enrollment.id, 'parked', `webhook step ${step.id}: no secret ${step.webhook.secret ?? 'BATON_WEBHOOK_SECRET'} is configured`);
            return;
          }
          const result = await deps.webhooks.sender.send({
            url: step.webhook.url,
            // The same id on every retry: receivers dedupe on it.
            id: `msg_${enrollment.id}_${step.id}`,
            payload: webhookPayload(sequence, step, enrollment, lead, now),
            secrets: [secret],
          });
          if (result.kind === 'retry') {
            const delay = deps.webhooks.retryDelayMs(attempt + 1);
            if (delay !== null) return deps.queue.schedule(new Date(now.getTime() + Math.max(delay, result.retryAfterMs ?? 0)), { ...job, attempt: attempt + 1 });
          }
          if (result.kind !== 'delivered') deps.logger.warn({ enrollmentId: enrollment.id, stepId: step.id, url: step.webhook.url, result, attempts: attempt + 1 }, 'webhook step not delivered; the enrollment goes on');
          return advance(sequence, enrollment, step, now);
        }
        case 'end':
          return endEnrollment(deps.db, enrollment.id, 'completed', 'end step');
      }
    },
  };
  return runner;
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

/** The body of a webhook step's POST (Standard Webhooks shape: type, timestamp, data). */
function webhookPayload(sequence: Sequence, step: Step, enrollment: EnrollmentRow, lead: Lead, now: Date) {
  return {
    type: 'sequence.step',
    timestamp: now.toISOString(),
    data: {
      sequence: { id: sequence.id, name: sequence.name, version: sequence.version },
      step: { id: step.id },
      enrollment: { id: enrollment.id, enteredAt: enrollment.entered_at.toISOString() },
      lead: {
        id: lead.id, email: lead.email, firstName: lead.firstName, lastName: lead.lastName, company: lead.company, title: lead.title,
        country: lead.country, timezone: lead.timezone, tags: lead.tags, traits: lead.traits,
      },
    },
  };
}
