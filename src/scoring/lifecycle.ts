import type { LifecycleStage } from '../platform/db/schema.js';
import type { IntentMatch } from './intent.js';
import type { Grade, Score } from './score.js';
import type { ScoringConfig } from './scoring-config.js';

/*
 * Lifecycle stages: subscriber → lead → MQL (engagement threshold with a minimum fit grade) →
 * SQL (accepted by sales) → customer; a lead sales rejects is recycled and can become an MQL
 * again; disqualified is final. Scoring moves a lead only up to MQL; past that, sales decides.
 */

const GRADE_RANK: Record<Grade, number> = { A: 4, B: 3, C: 2, D: 1 };

/** Stages a score change may move a lead out of. */
const SCORED_STAGES: ReadonlySet<LifecycleStage> = new Set(['subscriber', 'lead', 'recycled']);

export function meetsMinimumGrade(grade: Grade, minimum: Grade): boolean {
  return GRADE_RANK[grade] >= GRADE_RANK[minimum];
}

export function isMarketingQualified(score: Score, lifecycle: NonNullable<ScoringConfig['lifecycle']>): boolean {
  return score.engagement >= lifecycle.mql.engagement && meetsMinimumGrade(score.grade, lifecycle.mql.minGrade);
}

/** The stage a new score puts a lead in; unchanged once sales owns it. */
export function stageAfterScore(current: LifecycleStage, score: Score, lifecycle: ScoringConfig['lifecycle']): LifecycleStage {
  if (!SCORED_STAGES.has(current)) return current;
  if (lifecycle && isMarketingQualified(score, lifecycle)) return 'mql';
  const leadAt = lifecycle?.leadAt ?? 1;
  if (current === 'subscriber' && score.engagement > 0 && score.engagement >= leadAt) return 'lead';
  return current;
}

/** Why a lead goes to sales: its score crossed the MQL threshold, it asked (an intent rule), or a sequence's handoff step sent it. */
export type HandoffCause =
  | { kind: 'threshold' }
  | { kind: 'intent'; intent: IntentMatch }
  | { kind: 'step'; sequence: { id: string; name: string }; stepId: string; reason: string | null };

/**
 * Whether a rescored lead goes to sales now, and why. A raised hand wins over the threshold and
 * also moves a disqualified lead (back to its previous rep) and an unsubscribed one (the lead
 * asked, so the objection to marketing does not cover it). The threshold never hands off a lead
 * that objected to marketing (GDPR art. 21): it is scored, not profiled for sales.
 */
export function handoffCause(
  stage: LifecycleStage,
  score: Score,
  lifecycle: ScoringConfig['lifecycle'],
  intent: IntentMatch | null,
  unsubscribed: boolean,
): HandoffCause | null {
  if (intent && (SCORED_STAGES.has(stage) || stage === 'disqualified')) return { kind: 'intent', intent };
  if (!unsubscribed && stageAfterScore(stage, score, lifecycle) === 'mql') return { kind: 'threshold' };
  return null;
}

/** Whether the lead is with sales: nurture sequences must leave it alone. */
export function isWithSales(stage: LifecycleStage): boolean {
  return stage === 'mql' || stage === 'sql' || stage === 'customer' || stage === 'disqualified';
}
