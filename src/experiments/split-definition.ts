import type { Sequence } from '../sequences/sequence.js';

/*
 * What the experiment results need to know of a sequence: its split steps (arms, weights, the
 * optional winner rule) and its holdout share. The results are written against these small
 * types; `experimentsOf` is the one place that reads them out of a loaded sequence.
 */

/** Per lead, did it happen at least once after assignment (opens and clicks by people only). */
export type ExperimentMetric = 'open' | 'click' | 'goal' | 'mql' | 'handoff';
export const EXPERIMENT_METRICS: readonly ExperimentMetric[] = ['open', 'click', 'goal', 'mql', 'handoff'];

export interface WinnerRule {
  metric: ExperimentMetric;
  /** Entrants every arm needs before a winner can be named. */
  after: number;
  /** The probability of being best the leading arm needs (0..1). */
  minProbability: number;
}

export interface SplitArm {
  id: string;
  weight: number;
  next: string;
}

export interface SplitDefinition {
  sequenceId: string;
  stepId: string;
  arms: SplitArm[];
  winner: WinnerRule | null;
}

export interface SequenceExperiments {
  sequenceId: string;
  sequenceName: string;
  /** The share of entrants held out of the sequence's emails (0..1); 0 without `holdout:`. */
  holdout: number;
  splits: SplitDefinition[];
}

export function isExperimentMetric(value: unknown): value is ExperimentMetric {
  return typeof value === 'string' && (EXPERIMENT_METRICS as readonly string[]).includes(value);
}

/*
 * ┌──────────────────────────────────────────────────────────────────────────────────────────┐
 * │ ADAPTER — TO FINISH AT MERGE. The `split` step kind and `Sequence.holdout` are added by  │
 * │ the engine (contract in the session notes): `{ kind: 'split'; split: { arms, winner? } }`│
 * │ and `holdout: number`. This branch has neither in its types, so the raw step is read     │
 * │ defensively. Once merged, replace the body with the typed reads:                         │
 * │   steps.filter((s) => s.kind === 'split').map((s) => ({ …, arms: s.split.arms,           │
 * │     winner: s.split.winner ?? null })) and holdout: sequence.holdout.                    │
 * └──────────────────────────────────────────────────────────────────────────────────────────┘
 */
export function experimentsOf(sequence: Sequence): SequenceExperiments {
  const splits: SplitDefinition[] = [];
  for (const step of sequence.steps as readonly unknown[]) {
    const definition = splitOf(sequence.id, step);
    if (definition) splits.push(definition);
  }
  const holdout: unknown = (sequence as unknown as Record<string, unknown>).holdout;
  return {
    sequenceId: sequence.id,
    sequenceName: sequence.name,
    holdout: typeof holdout === 'number' && holdout > 0 && holdout < 1 ? holdout : 0,
    splits,
  };
}

function splitOf(sequenceId: string, step: unknown): SplitDefinition | null {
  if (!isRecord(step) || step.kind !== 'split' || typeof step.id !== 'string' || !isRecord(step.split)) return null;
  const arms = Array.isArray(step.split.arms) ? step.split.arms.flatMap((arm: unknown) => {
    if (!isRecord(arm) || typeof arm.id !== 'string' || typeof arm.weight !== 'number' || typeof arm.next !== 'string') return [];
    return [{ id: arm.id, weight: arm.weight, next: arm.next }];
  }) : [];
  const rule = step.split.winner;
  const winner = isRecord(rule) && isExperimentMetric(rule.metric) && typeof rule.after === 'number' && typeof rule.minProbability === 'number'
    ? { metric: rule.metric, after: rule.after, minProbability: rule.minProbability }
    : null;
  return { sequenceId, stepId: step.id, arms, winner };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
