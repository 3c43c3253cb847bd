import { containsAll } from '../sequences/triggers.js';
import type { LifecycleStage } from '../platform/db/schema.js';
import { meetsMinimumGrade } from './lifecycle.js';
import { isMachineEvent, type Grade, type ScoredEvent } from './score.js';

/*
 * Intent rules: events by which a lead asks to talk to sales (a demo request, a "contact sales"
 * form, a quote request). They hand the lead to sales at once, whatever the score, when the lead
 * has at least the rule's grade. Pure: the scoring worker passes the lead's events and the clock.
 */

export interface IntentRule {
  id: string;
  /** A noun phrase a rep reads: "Demo request" ("contact about the demo request only"). */
  label: string;
  event: string;
  /** Every key must be in the event's properties with the same value (as behaviour rules). */
  where?: Record<string, unknown>;
  minGrade: Grade;
  /** A hand raised longer ago than this no longer hands the lead off (a changed file must not send sales last year's requests). */
  withinMs: number;
}

export interface IntentMatch {
  rule: string;
  label: string;
  eventId: string;
  at: Date;
}

/**
 * The newest raised hand among `events`: a human event matching an intent rule whose minimum grade
 * the lead has, within the rule's window before `now`, and after `after` when given (a
 * disqualified lead counts only hands raised since). Null when there is none.
 */
export function findIntent(events: ScoredEvent[], rules: IntentRule[], grade: Grade, now: Date, after: Date | null): IntentMatch | null {
  let found: IntentMatch | null = null;
  for (const event of events) {
    const at = event.occurredAt.getTime();
    if (isMachineEvent(event) || at > now.getTime() || (after && at <= after.getTime())) continue;
    if (found && at <= found.at.getTime()) continue;
    const rule = rules.find(
      (candidate) =>
        candidate.event === event.type &&
        containsAll(event.properties, candidate.where ?? {}) &&
        meetsMinimumGrade(grade, candidate.minGrade) &&
        now.getTime() - at <= candidate.withinMs,
    );
    if (rule) found = { rule: rule.id, label: rule.label, eventId: event.id, at: event.occurredAt };
  }
  return found;
}

/**
 * After when a raised hand counts (findIntent's `after`), null for any time: a disqualified lead
 * counts only hands raised since it was disqualified, and an unsubscribed lead only hands raised
 * after it unsubscribed (a demo request from before it objected is no request to be called now).
 * The later of the two when both apply.
 */
export function intentCountsAfter(stage: LifecycleStage, stageChangedAt: Date | null, unsubscribedAt: string | null): Date | null {
  const times = [stage === 'disqualified' ? stageChangedAt : null, unsubscribedAt === null ? null : new Date(unsubscribedAt)].filter(
    (at): at is Date => at !== null,
  );
  return times.length === 0 ? null : new Date(Math.max(...times.map((at) => at.getTime())));
}
