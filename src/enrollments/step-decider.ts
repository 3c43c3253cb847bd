import { armForLead, holdoutArmForLead, type HoldoutArm } from '../experiments/assignment.js';
import { assertUnreachable } from '../platform/assert.js';
import type { LifecycleStage } from '../platform/db/schema.js';
import { isWithSales } from '../scoring/lifecycle.js';
import { evaluateCondition, type LeadFacts } from '../sequences/conditions.js';
import { parseDuration } from '../sequences/duration.js';
import type { EmailStep, Sequence, SplitStep, Step } from '../sequences/sequence.js';
import { branchTarget, emailDueAt, goalPlan, nextStepId, stepZone, waitEndsAt } from '../sequences/step-plan.js';
import { LEAD_KEY_OF_FIELD, type LeadFieldName } from '../sequences/lead-fields.js';

/*
 * What the engine does next with one enrollment, as one pure function of what is known: the
 * runner (Agenda step jobs), the email batch, enrollment and `baton simulate` gather these facts
 * and apply the decision; none of them decides on its own. `now` is passed in, never read.
 *
 * Adding a step type: a member of the Step union (sequence.ts), its schema entry
 * (sequence.schemas.ts, and the loader's toAction), a case in decide() and in arrival() here, and
 * a case in the executor (step-executor.ts) and in the simulation: each of those
 * switches ends in assertUnreachable, so the compiler names every place still missing.
 */

/** A paused sequence's enrollments look again this often. */
export const PAUSED_RECHECK_MS = 15 * 60_000;

/** What the engine knows of the lead when it decides; null when the lead was erased. */
export interface LeadStanding {
  id: string;
  unsubscribed: boolean;
  /** Lifecycle stage from the scoring module; null when the lead was never scored. */
  stage: LifecycleStage | null;
  timezone: string | null;
  tags: string[];
  /** What conditions read (engagement is filled only for a branch step, which reads it). */
  conditions: LeadFacts;
}

export interface StepFacts {
  now: Date;
  sequence: Sequence;
  /** The enrollment's current step id, and the step itself: undefined when an edit removed it. */
  stepId: string;
  step: Step | undefined;
  enteredAt: Date;
  stepEnteredAt: Date;
  lead: LeadStanding | null;
  /** The first sequence goal whose event happened since the lead entered, null when none did. */
  goalReached: string | null;
  /** For a goal step: whether its event happened since the step was entered. */
  stepGoalReached: boolean;
  /** The lead is in the sequence's holdout group: it walks the steps but is sent nothing. */
  heldOut: boolean;
  /** For a split step: the arm stored for this lead, the recorded winner, and an arm a simulation persona forces. */
  split: { stored: string | null; winner: string | null; forced?: string | null };
}

export type SplitSource = 'stored' | 'forced' | 'winner' | 'hash';

export type Decision =
  /** The lead leaves: erased, unsubscribed, or with sales. */
  | { kind: 'exit'; reason: string }
  /** A sequence goal (or a goal step) was reached. */
  | { kind: 'convert'; reason: string }
  /** Nothing to do before `until`; `because` says why for logs and the simulation. */
  | { kind: 'wait'; until: Date; because: 'wait' | 'goal' | 'send_window' | 'paused' }
  /** Move on to `to`; null: the end of the sequence. */
  | { kind: 'advance'; to: string | null; because: 'waited' | 'branch' | 'goal_timed_out' | 'held_out' }
  | { kind: 'send'; channel: 'email'; step: EmailStep; then: string | null }
  | { kind: 'callWebhook'; url: string; secret: string | undefined; then: string | null }
  | { kind: 'updateLead'; patch: Record<string, string | null>; tags: string[]; then: string | null }
  | { kind: 'handOff'; reason: string | null; then: string | null }
  /** `record`: the assignment row is (re)written (a first decision, or a stored arm an edit removed). */
  | { kind: 'split'; arm: string; to: string; source: SplitSource; record: boolean }
  | { kind: 'end'; reason: string }
  /** The step is gone from the edited file: the enrollment waits for a person, never dropped. */
  | { kind: 'park'; reason: string };

/** The exit rules, once: for a step about to run and for a lead about to enter. */
export function exitReason(lead: LeadStanding | null): string | null {
  if (!lead) return 'the lead was erased';
  if (lead.unsubscribed) return 'the lead unsubscribed';
  // An enrollment that slipped in while the lead was being handed off still leaves here.
  if (lead.stage !== null && isWithSales(lead.stage)) return 'handed off to sales';
  return null;
}

export function decide(facts: StepFacts): Decision {
  const { sequence, step, now } = facts;
  if (!step) return { kind: 'park', reason: `step ${facts.stepId} no longer exists in ${sequence.id}` };
  // A paused sequence holds its enrollments where they are; they go on when it is active again.
  if (sequence.status === 'paused') return { kind: 'wait', until: new Date(now.getTime() + PAUSED_RECHECK_MS), because: 'paused' };
  const exit = exitReason(facts.lead);
  if (exit || !facts.lead) return { kind: 'exit', reason: exit ?? 'the lead was erased' };
  if (facts.goalReached) return { kind: 'convert', reason: `goal ${facts.goalReached}` };
  const lead = facts.lead;
  const zone = stepZone(sequence, lead.timezone);
  const then = nextStepId(sequence, step);

  switch (step.kind) {
    case 'email': {
      // A held-out lead walks on as if the email had gone, so goals and handoffs still count.
      if (facts.heldOut) return { kind: 'advance', to: then, because: 'held_out' };
      const due = emailDueAt(sequence, now, zone);
      if (due.getTime() > now.getTime()) return { kind: 'wait', until: due, because: 'send_window' };
      return { kind: 'send', channel: 'email', step, then };
    }
    case 'wait': {
      const until = waitEndsAt(step, facts.stepEnteredAt, zone);
      return until.getTime() > now.getTime() ? { kind: 'wait', until, because: 'wait' } : { kind: 'advance', to: then, because: 'waited' };
    }
    case 'branch':
      return { kind: 'advance', to: branchTarget(step, lead.conditions), because: 'branch' };
    case 'goal': {
      const plan = goalPlan(step, facts.stepEnteredAt, now, facts.stepGoalReached);
      if (plan.kind === 'converted') return { kind: 'convert', reason: `goal ${step.goal.event}` };
      if (plan.kind === 'recheck') return { kind: 'wait', until: plan.at, because: 'goal' };
      return { kind: 'advance', to: then, because: 'goal_timed_out' };
    }
    case 'update_lead': {
      const set = step.update_lead.set ?? {};
      const patch = Object.fromEntries(
        Object.entries(set).map(([field, value]) => [LEAD_KEY_OF_FIELD[field as LeadFieldName] ?? field, value === null ? null : String(value)]),
      );
      const remove = step.update_lead.remove_tags ?? [];
      const tags = [...lead.tags.filter((tag) => !remove.includes(tag)), ...(step.update_lead.add_tags ?? []).filter((tag) => !lead.tags.includes(tag))];
      return { kind: 'updateLead', patch, tags, then };
    }
    case 'webhook':
      return { kind: 'callWebhook', url: step.webhook.url, secret: step.webhook.secret, then };
    case 'handoff':
      return { kind: 'handOff', reason: step.handoff.reason ?? null, then };
    case 'split':
      return splitDecision(sequence, step, lead.id, facts.split);
    case 'end':
      return { kind: 'end', reason: 'end step' };
    default:
      return assertUnreachable(step);
  }
}

/**
 * The arm a lead takes: the stored one while the arm still exists (an edit of the weights moves
 * new entrants only), else one a simulation forces, else the recorded winner, else the hash.
 */
export function splitDecision(sequence: Sequence, step: SplitStep, leadId: string, known: StepFacts['split']): Extract<Decision, { kind: 'split' }> {
  const arms = step.split.arms;
  const exists = (id: string | null | undefined): id is string => typeof id === 'string' && arms.some((arm) => arm.id === id);
  const chosen: { arm: string; source: SplitSource } = exists(known.stored)
    ? { arm: known.stored, source: 'stored' }
    : exists(known.forced)
      ? { arm: known.forced, source: 'forced' }
      : exists(known.winner)
        ? { arm: known.winner, source: 'winner' }
        : { arm: armForLead(leadId, sequence.id, step.id, arms), source: 'hash' };
  const arm = arms.find((candidate) => candidate.id === chosen.arm) ?? arms[0];
  if (!arm) throw new Error(`split ${step.id} has no arms`);
  return { kind: 'split', arm: arm.id, to: arm.next, source: chosen.source, record: chosen.source !== 'stored' };
}

/** Where a step goes when an enrollment arrives at it from an email batch. */
export type Arrival =
  | { kind: 'email_queue' }
  /** An Agenda job at `at` (now, or a wait's end). */
  | { kind: 'job'; at: Date }
  | { kind: 'end'; reason: string };

/**
 * Email steps wait in the email queue, every other step runs as an Agenda job; a wait's job is
 * written for its end straight away, and an end step closes the enrollment without a job.
 */
export function arrival(step: Step, now: Date, zone: string): Arrival {
  switch (step.kind) {
    case 'email':
      return { kind: 'email_queue' };
    case 'wait':
      return { kind: 'job', at: waitEndsAt(step, now, zone) };
    case 'end':
      return { kind: 'end', reason: 'end step' };
    case 'branch':
    case 'goal':
    case 'update_lead':
    case 'webhook':
    case 'handoff':
    case 'split':
      return { kind: 'job', at: now };
    default:
      return assertUnreachable(step);
  }
}

export type EntryFacts = {
  now: Date;
  sequence: Sequence;
  /** Null: no such lead. */
  lead: LeadStanding | null;
  previous: { status: string; enteredAt: Date } | null;
  /** The holdout decision stored for this lead and sequence (kept across re-entries and edits). */
  storedHoldout: HoldoutArm | null;
};

export type EntryDecision =
  | { kind: 'enroll'; firstStep: string; holdout: { arm: HoldoutArm; record: boolean } | null }
  | { kind: 'already_enrolled' }
  | { kind: 'unknown_lead' }
  | { kind: 'not_eligible'; reason: string };

/** Whether a lead enters a sequence now, and for a sequence with a holdout, in which group. */
export function decideEntry(facts: EntryFacts): EntryDecision {
  const { sequence, lead, previous, now } = facts;
  if (sequence.status !== 'active') return { kind: 'not_eligible', reason: 'the sequence is paused' };
  if (!lead) return { kind: 'unknown_lead' };
  // The exit rules keep a lead out as they take one out; said here as an answer to "enroll".
  if (exitReason(lead))
    return { kind: 'not_eligible', reason: lead.unsubscribed ? 'the lead has unsubscribed' : `the lead is with sales (stage ${lead.stage ?? '?'})` };
  // Entry conditions cannot test engagement (the loader refuses it): no emails yet.
  if (!sequence.entry.conditions.every((condition) => evaluateCondition(condition, lead.conditions)))
    return { kind: 'not_eligible', reason: 'the entry conditions do not hold' };
  if (previous?.status === 'active') return { kind: 'already_enrolled' };
  if (previous) {
    const reentry = sequence.entry.reentry;
    if (reentry === 'never') return { kind: 'not_eligible', reason: 'the sequence does not allow re-entry' };
    const cooldown = parseDuration(reentry.after) ?? 0;
    if (previous.enteredAt.getTime() + cooldown > now.getTime())
      return { kind: 'not_eligible', reason: `re-entry is allowed ${reentry.after} after the last entry` };
  }
  const first = sequence.steps[0];
  if (!first) return { kind: 'not_eligible', reason: 'the sequence has no steps' };
  const holdout = facts.storedHoldout
    ? { arm: facts.storedHoldout, record: false }
    : sequence.holdout > 0
      ? { arm: holdoutArmForLead(lead.id, sequence.id, sequence.holdout), record: true }
      : null;
  return { kind: 'enroll', firstStep: first.id, holdout };
}
