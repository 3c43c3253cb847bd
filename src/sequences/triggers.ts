import type { Sequence, Trigger } from './sequence.js';

/*
 * Which lead changes start which sequences. The database queues only the changes some sequence
 * listens to (its interests); each queued change is then matched here against the sequences.
 */

export type LeadChange =
  | { kind: 'lead_created' }
  | { kind: 'tag_added'; tag: string }
  | { kind: 'event'; type: string; properties: Record<string, unknown> };

export interface TriggerInterest {
  kind: LeadChange['kind'];
  /** The tag or event type; '' for lead_created. */
  key: string;
}

/** What the database should queue for the active sequences, without duplicates. */
export function triggerInterests(sequences: Sequence[]): TriggerInterest[] {
  const interests = new Map<string, TriggerInterest>();
  for (const sequence of sequences) {
    if (sequence.status !== 'active') continue;
    const interest = interestOf(sequence.entry.trigger);
    if (interest) interests.set(`${interest.kind}\u0000${interest.key}`, interest);
  }
  return [...interests.values()];
}

/** A goal the database checks as events arrive: stepId null for a sequence goal, else its goal step. */
export interface GoalInterest {
  sequenceId: string;
  stepId: string | null;
  event: string;
  where: Record<string, unknown>;
}

/** Every goal of the loaded sequences (paused ones too: a lead who converts has converted). */
export function goalInterests(sequences: Sequence[]): GoalInterest[] {
  return sequences.flatMap((sequence) => [
    ...sequence.goals.map((goal) => ({ sequenceId: sequence.id, stepId: null, event: goal.event, where: goal.where ?? {} })),
    ...sequence.steps.flatMap((step) => (step.kind === 'goal' ? [{ sequenceId: sequence.id, stepId: step.id, event: step.goal.event, where: step.goal.where ?? {} }] : [])),
  ]);
}

function interestOf(trigger: Trigger): TriggerInterest | null {
  switch (trigger.type) {
    case 'lead_created':
      return { kind: 'lead_created', key: '' };
    case 'tag_added':
      return { kind: 'tag_added', key: trigger.tag };
    case 'event':
      return { kind: 'event', key: trigger.event };
    case 'manual':
      return null;
  }
}

/** The active sequences this change starts, highest priority first (ties by id, for a stable order). */
export function sequencesStartedBy(change: LeadChange, sequences: Sequence[]): Sequence[] {
  return sequences
    .filter((sequence) => sequence.status === 'active' && triggerMatches(sequence.entry.trigger, change))
    .sort((a, b) => b.priority - a.priority || a.id.localeCompare(b.id));
}

export function triggerMatches(trigger: Trigger, change: LeadChange): boolean {
  switch (trigger.type) {
    case 'lead_created':
      return change.kind === 'lead_created';
    case 'tag_added':
      return change.kind === 'tag_added' && change.tag === trigger.tag;
    case 'event':
      return change.kind === 'event' && change.type === trigger.event && containsAll(change.properties, trigger.where ?? {});
    case 'manual':
      return false;
  }
}

/**
 * Whether `properties` has every key of `where` with an equal value (nested objects compared the
 * same way, arrays element by element, strings exactly): the rule Postgres's jsonb @> applies to
 * objects, which goal filters use, so triggers and goals read a `where` alike.
 */
export function containsAll(properties: unknown, where: unknown): boolean {
  if (where === null || typeof where !== 'object') return properties === where;
  if (Array.isArray(where)) return Array.isArray(properties) && where.every((item) => properties.some((candidate) => containsAll(candidate, item)));
  if (properties === null || typeof properties !== 'object' || Array.isArray(properties)) return false;
  const record = properties as Record<string, unknown>;
  return Object.entries(where).every(([key, value]) => key in record && containsAll(record[key], value));
}
