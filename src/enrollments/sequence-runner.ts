import type { Kysely } from 'kysely';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database, LifecycleStage } from '../platform/db/schema.js';
import { isWithSales } from '../scoring/lifecycle.js';
import type { Logger } from '../platform/logger.js';
import { retryDelayMs } from '../mail/smtp-replies.js';
import type { EmailDelivery } from '../sends/email-delivery.js';
import { evaluateCondition, type LeadFacts, type StepEngagement } from '../sequences/conditions.js';
import { parseDuration } from '../sequences/duration.js';
import { nextInWindow } from '../sequences/local-time.js';
import type { Sequence, Step } from '../sequences/sequence.js';
import { branchTarget, emailDueAt, goalPlan, nextStepId, stepZone, waitEndsAt } from '../sequences/step-plan.js';
import { fieldsByFileName, LEAD_KEY_OF_FIELD, type LeadFieldName } from '../sequences/lead-fields.js';
import { nextAllowedSend, type FrequencyCap } from '../sends/frequency-cap.js';
import { markInterruptedSends, recentMarketingSends } from '../sends/sends.repository.js';
import { sequencesStartedBy, triggerInterests, type LeadChange } from '../sequences/triggers.js';
import {
  activePositions, drainTriggerQueue, endEnrollment, engagementOf, eventHappened, findEnrollment, insertEnrollment, lastEnrollment, moveToStep,
  orphanedEnrollments, otherActiveEnrollments, parkAt, replaceTriggerInterests, repin, type EnrollmentRow,
} from './enrollments.repository.js';

/*
 * Runs sequences: enrolls leads and executes one step per job. Agenda decides when a step runs;
 * a step job that is stale (the enrollment moved on, or ended) does nothing, and email steps go
 * through the send ledger, so a job that runs twice never acts twice.
 *
 * Automatic triggers arrive through the database's trigger queue (see migration 0005): the
 * runner drains it and enrolls. The frequency cap and priorities are checked under a per-lead
 * lock in the transaction that claims an email's ledger row.
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
  /** Worker start: tells the database which changes to queue, and reconciles enrollments with edited files. */
  prepare(): Promise<ReconcileReport>;
  /** Enrolls leads for queued changes; returns how many changes it handled (0: the queue is empty). */
  processTriggers(now: Date, limit?: number): Promise<number>;
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

/** What conditions see of a lead; `score` is its stored total, null while it has none (no scoring). */
function leadFacts(lead: Lead, engagement: Record<string, StepEngagement>, score: number | null = null): LeadFacts {
  return { fields: fieldsByFileName(lead), traits: lead.traits, tags: lead.tags, score, engagement };
}

export function createSequenceRunner(deps: RunnerDeps): SequenceRunner {
  const byId = new Map(deps.sequences.map((sequence) => [sequence.id, sequence]));

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
    if (await moveToStep(deps.db, enrollment.id, step.id, next)) await deps.queue.schedule(now, { enrollmentId: enrollment.id, stepId: next });
  }

  /**
   * The frequency cap and priorities, checked under the lead's lock: a lead at the cap waits
   * until a slot frees; a lead whose higher-priority sequence has an email due now lets it go
   * first. Transactional email is never held.
   */
  function emailGate(cap: FrequencyCap, sequence: Sequence, enrollment: EnrollmentRow, step: Step, leadZone: string | null, now: Date) {
    return async (trx: Kysely<Database>, marketing: boolean): Promise<Date | null> => {
      if (!marketing) return null;
      const recent = await recentMarketingSends(trx, enrollment.lead_id, new Date(now.getTime() - cap.windowMs), { enrollmentId: enrollment.id, stepId: step.id });
      const capped = nextAllowedSend(cap, recent, now);
      if (capped) return capped;
      const competitors = await otherActiveEnrollments(trx, enrollment.lead_id, enrollment.id);
      const outranked = competitors.some((other) => {
        const rival = byId.get(other.sequence_id);
        const rivalStep = rival?.steps.find((candidate) => candidate.id === other.current_step);
        return rival !== undefined && rival.status === 'active' && rival.priority > sequence.priority
          && rivalStep?.kind === 'email' && deps.isMarketing(rivalStep.email.template)
          // A rival outside its own send window is not due: it does not hold this one back.
          && (!rival.sendWindow || nextInWindow(now, rival.sendWindow, leadZone ?? rival.sendWindow.timezone).getTime() <= now.getTime());
      });
      return outranked ? new Date(now.getTime() + YIELD_RECHECK_MS) : null;
    };
  }

  const runner: SequenceRunner = {
    sequences: () => deps.sequences,

    async prepare() {
      await replaceTriggerInterests(deps.db, triggerInterests(deps.sequences));
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

    async processTriggers(now, limit = 200) {
      return drainTriggerQueue(deps.db, limit, 5 * 60_000, async (rows) => {
        for (const row of rows) {
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
      for (const orphan of orphans) await deps.queue.schedule(now, { enrollmentId: orphan.id, stepId: orphan.current_step });
      if (orphans.length > 0) deps.logger.warn({ count: orphans.length }, 'enrollments left without a step job (a worker died between two writes) are scheduled again');
      return orphans.length;
    },

    async sweepInterruptedSends(now) {
      const count = await markInterruptedSends(deps.db, new Date(now.getTime() - INTERRUPTED_AFTER_MS));
      if (count > 0) deps.logger.warn({ count }, 'sends interrupted mid-delivery (the process died) are marked unknown and will not be resent');
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
      await deps.queue.schedule(now, { enrollmentId: enrollment.id, stepId: first.id });
      return { kind: 'enrolled', enrollment };
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
        case 'email': {
          const due = emailDueAt(sequence, now, zone);
          if (due.getTime() > now.getTime()) return later(due);
          const outcome = await deps.delivery.deliver({
            enrollmentId: enrollment.id, leadId: lead.id, sequence: { id: sequence.id, name: sequence.name }, stepId: step.id,
            template: step.email.template, subject: step.email.subject, from: step.email.from,
            gate: deps.frequencyCap ? emailGate(deps.frequencyCap, sequence, enrollment, step, lead.timezone, now) : undefined,
          });
          switch (outcome.kind) {
            case 'held':
              return later(outcome.until);
            case 'retry_later':
            case 'sender_blocked':
              // Nothing went out; try the same step again later (a blocked sender needs a person, so wait longer).
              return later(new Date(now.getTime() + (outcome.kind === 'sender_blocked' ? 30 * 60_000 : retryDelayMs(1) ?? 60_000)));
            case 'skipped':
              return endEnrollment(deps.db, enrollment.id, 'exited', `email skipped: ${outcome.reason}`);
            case 'bounced':
              return endEnrollment(deps.db, enrollment.id, 'exited', 'hard bounce');
            default:
              return advance(sequence, enrollment, step, now);
          }
        }
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
