import type { ArmCounts } from './experiments.repository.js';
import { EXPERIMENT_METRICS, type ExperimentMetric, type SplitArm, type WinnerRule } from './split-definition.js';
import { differenceInterval, probabilityBest, wilsonInterval, type Interval } from './statistics.js';

/*
 * From counts to results, pure: per arm and metric the rate, its 95% interval and the
 * probability of being the best arm, and a verdict that names a leader only once every arm has
 * the minimum sample. The winner rule and the holdout comparison are built on the same figures.
 */

/** Nothing is called a winner before every arm has this many entrants, whatever a rule says. */
export const MINIMUM_ENTRANTS_FLOOR = 30;
/** The minimum sample per arm for a split without a winner rule. */
export const DEFAULT_MINIMUM_ENTRANTS = 100;
/** The probability of being best an arm needs to be called the leader without a winner rule. */
export const DEFAULT_MIN_PROBABILITY = 0.95;

export interface ArmFigure {
  armId: string;
  /** False for an arm an edit removed from the split: shown, not compared. */
  inSplit: boolean;
  entered: number;
  successes: number;
  rate: number | null;
  interval: Interval | null;
  /** Null for an arm not compared (removed from the split). */
  probabilityBest: number | null;
}

export type Verdict =
  | { kind: 'too_few_entrants'; minimumPerArm: number; armsShort: string[] }
  | { kind: 'no_clear_leader'; leader: string; probability: number; needed: number }
  | { kind: 'leader'; armId: string; probability: number; needed: number };

export interface MetricResult {
  metric: ExperimentMetric;
  arms: ArmFigure[];
  verdict: Verdict;
}

export interface Guard {
  minimumPerArm: number;
  minProbability: number;
}

export function guardOf(rule: WinnerRule | null): Guard {
  return {
    minimumPerArm: Math.max(MINIMUM_ENTRANTS_FLOOR, rule?.after ?? DEFAULT_MINIMUM_ENTRANTS),
    minProbability: rule?.minProbability ?? DEFAULT_MIN_PROBABILITY,
  };
}

export interface ArmRow {
  counts: ArmCounts;
  inSplit: boolean;
}

/**
 * The split's arms in its own order (an arm with nobody yet counts zero), then arms that only the
 * stored assignments know (removed by an edit). Without a definition (the split step itself was
 * removed) every stored arm is compared.
 */
export function armRows(defined: readonly SplitArm[] | null, counts: readonly ArmCounts[]): ArmRow[] {
  const byArm = new Map(counts.map((row) => [row.armId, row]));
  if (!defined) return counts.map((row) => ({ counts: row, inSplit: true }));
  const known = new Set(defined.map((arm) => arm.id));
  return [
    ...defined.map((arm) => ({ counts: byArm.get(arm.id) ?? { armId: arm.id, entered: 0, open: 0, click: 0, goal: 0, mql: 0, handoff: 0 }, inSplit: true })),
    ...counts.filter((row) => !known.has(row.armId)).map((row) => ({ counts: row, inSplit: false })),
  ];
}

export function metricResult(rows: readonly ArmRow[], metric: ExperimentMetric, guard: Guard): MetricResult {
  const compared = rows.filter((row) => row.inSplit);
  const probabilities = probabilityBest(compared.map((row) => ({ successes: row.counts[metric], trials: row.counts.entered })));
  const probabilityOf = new Map(compared.map((row, index) => [row.counts.armId, probabilities[index] ?? 0]));
  const arms = rows.map(({ counts, inSplit }): ArmFigure => ({
    armId: counts.armId,
    inSplit,
    entered: counts.entered,
    successes: counts[metric],
    rate: counts.entered > 0 ? counts[metric] / counts.entered : null,
    interval: wilsonInterval({ successes: counts[metric], trials: counts.entered }),
    probabilityBest: probabilityOf.get(counts.armId) ?? null,
  }));
  return {
    metric,
    arms,
    verdict: verdictOf(
      arms.filter((arm) => arm.inSplit),
      guard,
    ),
  };
}

function verdictOf(compared: readonly ArmFigure[], guard: Guard): Verdict {
  const armsShort = compared.filter((arm) => arm.entered < guard.minimumPerArm).map((arm) => arm.armId);
  if (compared.length < 2 || armsShort.length > 0) return { kind: 'too_few_entrants', minimumPerArm: guard.minimumPerArm, armsShort };
  const best = compared.reduce((leader, arm) => ((arm.probabilityBest ?? 0) > (leader.probabilityBest ?? 0) ? arm : leader));
  const probability = best.probabilityBest ?? 0;
  return probability >= guard.minProbability
    ? { kind: 'leader', armId: best.armId, probability, needed: guard.minProbability }
    : { kind: 'no_clear_leader', leader: best.armId, probability, needed: guard.minProbability };
}

export function allMetricResults(rows: readonly ArmRow[], guard: Guard): MetricResult[] {
  return EXPERIMENT_METRICS.map((metric) => metricResult(rows, metric, guard));
}

export type WinnerDecision = { kind: 'winner'; armId: string; probability: number; figures: WinnerFigures } | { kind: 'not_yet'; verdict: Verdict };

export interface WinnerFigures {
  metric: ExperimentMetric;
  minimumPerArm: number;
  minProbability: number;
  arms: Array<{ id: string; entered: number; successes: number; rate: number | null; low: number | null; high: number | null; probabilityBest: number | null }>;
}

/** Whether a split's winner rule is met by these counts; the figures are what gets recorded with it. */
export function decideWinner(rows: readonly ArmRow[], rule: WinnerRule): WinnerDecision {
  const guard = guardOf(rule);
  const result = metricResult(rows, rule.metric, guard);
  if (result.verdict.kind !== 'leader') return { kind: 'not_yet', verdict: result.verdict };
  const figures: WinnerFigures = {
    metric: rule.metric,
    minimumPerArm: guard.minimumPerArm,
    minProbability: guard.minProbability,
    arms: result.arms.map((arm) => ({
      id: arm.armId,
      entered: arm.entered,
      successes: arm.successes,
      rate: arm.rate,
      low: arm.interval?.low ?? null,
      high: arm.interval?.high ?? null,
      probabilityBest: arm.probabilityBest,
    })),
  };
  return { kind: 'winner', armId: result.verdict.armId, probability: result.verdict.probability, figures };
}

export interface HoldoutMetric {
  metric: ExperimentMetric;
  treatment: ArmFigure;
  holdout: ArmFigure;
  /** Treatment rate minus holdout rate, with Newcombe's 95% interval; null while a group is empty. */
  lift: (Interval & { difference: number }) | null;
  /** P(the treatment's true rate is above the holdout's). */
  probabilityTreatmentBetter: number;
  /** The same guard as a split's: too early to call until both groups have the minimum sample. */
  verdict: Verdict;
}

/** The sequence against doing nothing: treatment and holdout groups side by side, per metric. */
export function holdoutComparison(counts: readonly ArmCounts[]): HoldoutMetric[] {
  const rows = armRows(
    [
      { id: 'treatment', weight: 1, next: '' },
      { id: 'holdout', weight: 1, next: '' },
    ],
    counts,
  );
  return EXPERIMENT_METRICS.map((metric) => {
    const result = metricResult(rows, metric, guardOf(null));
    const [treatment, holdout] = result.arms;
    if (!treatment || !holdout) throw new Error('the holdout comparison has two groups');
    return {
      metric,
      treatment,
      holdout,
      lift: differenceInterval({ successes: treatment.successes, trials: treatment.entered }, { successes: holdout.successes, trials: holdout.entered }),
      probabilityTreatmentBetter: treatment.probabilityBest ?? 0,
      verdict: result.verdict,
    };
  });
}
