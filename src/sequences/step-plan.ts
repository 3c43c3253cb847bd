import { evaluateCondition, type LeadFacts } from './conditions.js';
import { parseDuration } from './duration.js';
import { nextInWindow, nextOccurrence } from './local-time.js';
import { successors } from './sequence-checks.js';
import type { Sequence, Step } from './sequence.js';

/*
 * What a step decides, as pure functions of the step, the clock and what is known of the lead.
 * The engine (src/enrollments/sequence-runner.ts) and `baton simulate` both call these, so a dry
 * run on a virtual clock takes the same branches and waits as the real thing.
 */

/** The time zone a lead's sends and waits are reckoned in. */
export function stepZone(sequence: Sequence, leadTimezone: string | null): string {
  return leadTimezone ?? sequence.sendWindow?.timezone ?? 'UTC';
}

/** When an email step may send: now, or the next opening of the sequence's send window. */
export function emailDueAt(sequence: Sequence, now: Date, zone: string): Date {
  if (!sequence.sendWindow) return now;
  const allowed = nextInWindow(now, sequence.sendWindow, zone);
  return allowed.getTime() > now.getTime() ? allowed : now;
}

/** When a wait step, entered at `enteredAt`, is over. */
export function waitEndsAt(step: Extract<Step, { kind: 'wait' }>, enteredAt: Date, zone: string): Date {
  return typeof step.wait === 'string'
    ? new Date(enteredAt.getTime() + (parseDuration(step.wait) ?? 0))
    : nextOccurrence(enteredAt, step.wait.until.days, step.wait.until.time, zone);
}

/** The step a branch goes to: the first option whose condition holds, else its `else`. */
export function branchTarget(step: Extract<Step, { kind: 'branch' }>, facts: LeadFacts): string {
  return step.branch.find((option) => evaluateCondition(option.if, facts))?.then ?? step.else;
}

export type GoalPlan = { kind: 'converted' } | { kind: 'recheck'; at: Date } | { kind: 'timed_out' };

/**
 * A goal step: converted once its event happened, else go on at the deadline. Nothing polls in
 * between: the event itself ends the enrollment when it arrives (the events trigger of
 * migration 0009, and onEvent in the simulation), so the step only looks again at its deadline.
 */
export function goalPlan(step: Extract<Step, { kind: 'goal' }>, enteredAt: Date, now: Date, reached: boolean): GoalPlan {
  if (reached) return { kind: 'converted' };
  const deadline = enteredAt.getTime() + (parseDuration(step.goal.within) ?? 0);
  if (deadline > now.getTime()) return { kind: 'recheck', at: new Date(deadline) };
  return { kind: 'timed_out' };
}

/** The step after `step` (or `target`, a branch's choice); null at the end of the sequence. */
export function nextStepId(sequence: Sequence, step: Step, target?: string): string | null {
  if (target) return target;
  const index = sequence.steps.findIndex((candidate) => candidate.id === step.id);
  return successors(sequence, index)[0] ?? null;
}

/** Whether an event is the one a goal waits for (type, and every `where` property equal). */
export function matchesGoal(goal: { event: string; where?: Record<string, unknown> }, event: { type: string; properties: Record<string, unknown> }): boolean {
  return event.type === goal.event && Object.entries(goal.where ?? {}).every(([key, value]) => event.properties[key] === value);
}
