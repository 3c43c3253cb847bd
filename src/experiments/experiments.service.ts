import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { Sequence } from '../sequences/sequence.js';
import { HOLDOUT_STEP_ID } from './assignment.js';
import {
  allMetricResults,
  armRows,
  decideWinner,
  guardOf,
  holdoutComparison,
  type Guard,
  type HoldoutMetric,
  type MetricResult,
} from './experiment-results.js';
import { armCounts, assignedStepIds, recordWinner, winnersOf, type WinnerRow } from './experiments.repository.js';
import { experimentsOf, type SplitArm, type WinnerRule } from './split-definition.js';

/*
 * Experiment results for a sequence (every split and the holdout group), and the periodic check
 * of winner rules: once a split's rule is met, the decision is recorded exactly once and new
 * entrants take the winning arm (the engine reads experiment_winners).
 */

export interface SplitReport {
  stepId: string;
  /** False when the sequence no longer has this split (an edit removed it): its history stays. */
  inSequence: boolean;
  arms: Array<SplitArm & { inSplit: boolean }>;
  winnerRule: WinnerRule | null;
  guard: Guard;
  winner: WinnerRow | null;
  entered: number;
  metrics: MetricResult[];
}

export interface HoldoutReport {
  /** The share the sequence holds out now (0 when an edit removed `holdout:`). */
  share: number;
  metrics: HoldoutMetric[];
}

export interface ExperimentsReport {
  sequence: { id: string; name: string; holdout: number };
  splits: SplitReport[];
  holdout: HoldoutReport | null;
}

export type ExperimentsOutcome = { kind: 'report'; report: ExperimentsReport } | { kind: 'unknown_sequence' };

export interface ExperimentsService {
  report(sequenceId: string): Promise<ExperimentsOutcome>;
  /** Checks every split with a winner rule and no winner yet; returns how many winners it recorded. */
  judgeWinners(now: Date): Promise<number>;
}

export interface ExperimentsDeps {
  db: Kysely<Database>;
  /** The sequences loaded now (a live edit may change them). */
  sequences: () => readonly Sequence[];
  logger: Logger;
}

export function createExperimentsService({ db, sequences, logger }: ExperimentsDeps): ExperimentsService {
  async function splitReport(
    sequenceId: string,
    stepId: string,
    defined: { arms: SplitArm[]; winner: WinnerRule | null } | null,
    winner: WinnerRow | null,
  ): Promise<SplitReport> {
    const rows = armRows(defined?.arms ?? null, await armCounts(db, sequenceId, stepId));
    const guard = guardOf(defined?.winner ?? null);
    const weightOf = new Map(defined?.arms.map((arm) => [arm.id, arm]) ?? []);
    return {
      stepId,
      inSequence: defined !== null,
      arms: rows.map((row) => ({
        id: row.counts.armId,
        weight: weightOf.get(row.counts.armId)?.weight ?? 0,
        next: weightOf.get(row.counts.armId)?.next ?? '',
        inSplit: row.inSplit,
      })),
      winnerRule: defined?.winner ?? null,
      guard,
      winner,
      entered: rows.reduce((sum, row) => sum + row.counts.entered, 0),
      metrics: allMetricResults(rows, guard),
    };
  }

  return {
    async report(sequenceId) {
      const sequence = sequences().find((candidate) => candidate.id === sequenceId);
      if (!sequence) return { kind: 'unknown_sequence' };
      const experiments = experimentsOf(sequence);
      const [stored, winners] = await Promise.all([assignedStepIds(db, sequenceId), winnersOf(db, sequenceId)]);
      const winnerOf = (stepId: string) => winners.find((winner) => winner.stepId === stepId) ?? null;
      const definedIds = new Set(experiments.splits.map((split) => split.stepId));
      const splits = [
        ...(await Promise.all(experiments.splits.map((split) => splitReport(sequenceId, split.stepId, split, winnerOf(split.stepId))))),
        ...(await Promise.all(
          stored
            .filter((stepId) => stepId !== HOLDOUT_STEP_ID && !definedIds.has(stepId))
            .map((stepId) => splitReport(sequenceId, stepId, null, winnerOf(stepId))),
        )),
      ];
      const hasHoldout = experiments.holdout > 0 || stored.includes(HOLDOUT_STEP_ID);
      const holdout = hasHoldout ? { share: experiments.holdout, metrics: holdoutComparison(await armCounts(db, sequenceId, HOLDOUT_STEP_ID)) } : null;
      return { kind: 'report', report: { sequence: { id: sequence.id, name: sequence.name, holdout: experiments.holdout }, splits, holdout } };
    },

    async judgeWinners(now) {
      let recorded = 0;
      for (const sequence of sequences()) {
        const ruled = experimentsOf(sequence).splits.filter((split) => split.winner !== null);
        if (ruled.length === 0) continue;
        const decided = new Set((await winnersOf(db, sequence.id)).map((winner) => winner.stepId));
        for (const split of ruled) {
          if (!split.winner || decided.has(split.stepId)) continue;
          const decision = decideWinner(armRows(split.arms, await armCounts(db, sequence.id, split.stepId)), split.winner);
          switch (decision.kind) {
            case 'not_yet':
              break;
            case 'winner': {
              const row = await recordWinner(db, {
                sequenceId: sequence.id,
                stepId: split.stepId,
                armId: decision.armId,
                metric: split.winner.metric,
                probability: decision.probability,
                figures: decision.figures,
                decidedAt: now,
              });
              // Null: another worker recorded it first; its decision stands.
              if (row) {
                recorded += 1;
                logger.info(
                  { sequenceId: sequence.id, stepId: split.stepId, armId: decision.armId, metric: split.winner.metric, probability: decision.probability },
                  'split winner decided: new entrants take this arm',
                );
              }
              break;
            }
            default: {
              const unreachable: never = decision;
              throw new Error(`unknown winner decision ${JSON.stringify(unreachable)}`);
            }
          }
        }
      }
      return recorded;
    },
  };
}
