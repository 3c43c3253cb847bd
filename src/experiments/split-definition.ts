import { EXPERIMENT_METRICS, type ExperimentMetric, type Sequence } from '../sequences/sequence.js';

/*
 * What the experiment results need to know of a sequence: its split steps (arms, weights, the
 * optional winner rule) and its holdout share. The results are written against these small
 * types; `experimentsOf` is the one place that reads them out of a loaded sequence.
 */

export { EXPERIMENT_METRICS, type ExperimentMetric } from '../sequences/sequence.js';

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

/** The splits and holdout of a loaded sequence, in the small shapes the results are written against. */
export function experimentsOf(sequence: Sequence): SequenceExperiments {
  const splits: SplitDefinition[] = sequence.steps.flatMap((step) =>
    step.kind === 'split'
      ? [
          {
            sequenceId: sequence.id,
            stepId: step.id,
            arms: step.split.arms.map((arm) => ({ id: arm.id, weight: arm.weight, next: arm.next })),
            winner: step.split.winner ?? null,
          },
        ]
      : [],
  );
  return { sequenceId: sequence.id, sequenceName: sequence.name, holdout: sequence.holdout, splits };
}
