import type { Kysely } from 'kysely';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { retryDelayMs } from '../mail/smtp-replies.js';
import type { EmailDelivery } from '../sends/email-delivery.js';
import { evaluateCondition, type LeadFacts, type StepEngagement } from '../sequences/conditions.js';
import { parseDuration } from '../sequences/duration.js';
import { nextInWindow, nextOccurrence } from '../sequences/local-time.js';
import type { Sequence, Step } from '../sequences/sequence.js';
import { successors } from '../sequences/sequence-checks.js';
import { LEAD_FIELDS } from '../sequences/sequence.schemas.js';
import {
  endEnrollment, engagementOf, eventHappened, findEnrollment, insertEnrollment, lastEnrollment, moveToStep, type EnrollmentRow,
} from './enrollments.repository.js';

/*
 * Runs sequences: enrolls leads and executes one step per job. Agenda decides when a step runs;
 * a step job that is stale (the enrollment moved on, or ended) does nothing, and email steps go
 * through the send ledger, so a job that runs twice never acts twice.
 *
 * Not built yet: automatic triggers (lead_created, tag_added, event), the per-lead frequency cap
 * and priorities across sequences, webhook steps, and moving in-flight enrollments to a new
 * version of an edited sequence.
 */

export const STEP_JOB = 'sequence-step';

export interface StepJob {
  enrollmentId: string;
  stepId: string;
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

export interface SequenceRunner {
  sequences(): Sequence[];
  enroll(sequenceId: string, leadId: string, now: Date): Promise<EnrollOutcome>;
  runStep(job: StepJob, now: Date): Promise<void>;
}

export interface RunnerDeps {
  db: Kysely<Database>;
  leads: LeadsService;
  delivery: EmailDelivery;
  queue: JobQueue;
  logger: Logger;
  sequences: Sequence[];
}

type SequenceField = (typeof LEAD_FIELDS)[number];

/** Sequence files name lead fields in snake_case; the Lead object in camelCase. */
const LEAD_KEY_OF_FIELD: Record<SequenceField, keyof Lead> = {
  email: 'email', first_name: 'firstName', last_name: 'lastName', company: 'company', title: 'title',
  phone: 'phone', timezone: 'timezone', country: 'country', source: 'source',
};

/** What conditions see of a lead. Score stays unknown until scoring exists. */
function leadFacts(lead: Lead, engagement: Record<string, StepEngagement>): LeadFacts {
  const fields = Object.fromEntries(LEAD_FIELDS.map((field) => {
    const value = lead[LEAD_KEY_OF_FIELD[field]];
    return [field, typeof value === 'string' ? value : null];
  }));
  return { fields, traits: lead.traits, tags: lead.tags, score: null, engagement };
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
    const index = sequence.steps.findIndex((candidate) => candidate.id === step.id);
    const next = target ?? successors(sequence, index)[0];
    if (!next) {
      await endEnrollment(deps.db, enrollment.id, 'completed', 'reached the end');
      return;
    }
    if (await moveToStep(deps.db, enrollment.id, step.id, next)) await deps.queue.schedule(now, { enrollmentId: enrollment.id, stepId: next });
  }

  return {
    sequences: () => deps.sequences,

    async enroll(sequenceId, leadId, now) {
      const sequence = byId.get(sequenceId);
      if (!sequence) return { kind: 'unknown_sequence' };
      if (sequence.status !== 'active') return { kind: 'not_eligible', reason: 'the sequence is paused' };
      const lead = await deps.leads.get(leadId);
      if (!lead) return { kind: 'unknown_lead' };
      if (lead.unsubscribedAt) return { kind: 'not_eligible', reason: 'the lead has unsubscribed' };
      // Entry conditions cannot test engagement (the loader refuses it): no emails yet.
      const facts = leadFacts(lead, {});
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
      const enrollment = await insertEnrollment(deps.db, { leadId, sequenceId, version: sequence.version, firstStep: first.id });
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
      const lead = await deps.leads.get(enrollment.lead_id);
      if (!lead) return endEnrollment(deps.db, enrollment.id, 'exited', 'the lead was erased');
      if (lead.unsubscribedAt) return endEnrollment(deps.db, enrollment.id, 'exited', 'the lead unsubscribed');
      for (const goal of sequence.goals) {
        if (await eventHappened(deps.db, lead.id, goal.event, goal.where, enrollment.entered_at)) return endEnrollment(deps.db, enrollment.id, 'converted', `goal ${goal.event}`);
      }
      const zone = lead.timezone ?? sequence.sendWindow?.timezone ?? 'UTC';
      const later = (at: Date) => deps.queue.schedule(at, job);

      switch (step.kind) {
        case 'email': {
          if (sequence.sendWindow) {
            const allowed = nextInWindow(now, sequence.sendWindow, zone);
            if (allowed.getTime() > now.getTime()) return later(allowed);
          }
          const outcome = await deps.delivery.deliver({ enrollmentId: enrollment.id, leadId: lead.id, sequence: { id: sequence.id, name: sequence.name }, stepId: step.id, template: step.email.template, subject: step.email.subject, from: step.email.from });
          switch (outcome.kind) {
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
          const until = typeof step.wait === 'string'
            ? new Date(enrollment.step_entered_at.getTime() + (parseDuration(step.wait) ?? 0))
            : nextOccurrence(enrollment.step_entered_at, step.wait.until.days, step.wait.until.time, zone);
          return until.getTime() > now.getTime() ? later(until) : advance(sequence, enrollment, step, now);
        }
        case 'branch': {
          const facts = leadFacts(lead, await engagementFor(enrollment.id));
          const chosen = step.branch.find((option) => evaluateCondition(option.if, facts));
          return advance(sequence, enrollment, step, now, chosen?.then ?? step.else);
        }
        case 'goal': {
          if (await eventHappened(deps.db, lead.id, step.goal.event, step.goal.where, enrollment.step_entered_at)) return endEnrollment(deps.db, enrollment.id, 'converted', `goal ${step.goal.event}`);
          const deadline = new Date(enrollment.step_entered_at.getTime() + (parseDuration(step.goal.within) ?? 0));
          if (deadline.getTime() > now.getTime()) return later(new Date(Math.min(deadline.getTime(), now.getTime() + 15 * 60_000)));
          return advance(sequence, enrollment, step, now);
        }
        case 'update_lead': {
          const set = step.update_lead.set ?? {};
          const patch: Record<string, unknown> = Object.fromEntries(Object.entries(set).map(([field, value]) => [LEAD_KEY_OF_FIELD[field as SequenceField] ?? field, value === null ? null : String(value)]));
          const tags = [...lead.tags.filter((tag) => !(step.update_lead.remove_tags ?? []).includes(tag)), ...(step.update_lead.add_tags ?? []).filter((tag) => !lead.tags.includes(tag))];
          const result = await deps.leads.update(lead.id, { ...patch, tags });
          if (result.kind !== 'updated') deps.logger.warn({ enrollmentId: enrollment.id, stepId: step.id, result: result.kind }, 'update_lead step could not update the lead');
          return advance(sequence, enrollment, step, now);
        }
        case 'webhook':
          return endEnrollment(deps.db, enrollment.id, 'parked', 'webhook steps are not supported yet');
        case 'end':
          return endEnrollment(deps.db, enrollment.id, 'completed', 'end step');
      }
    },
  };
}
