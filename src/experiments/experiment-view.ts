import type { MetricResult, Verdict } from './experiment-results.js';
import type { ExperimentsReport, HoldoutReport, SplitReport } from './experiments.service.js';
import { intervalChart, percent } from './interval-chart.js';
import { EXPERIMENT_METRICS, isExperimentMetric, type ExperimentMetric } from './split-definition.js';

/* The dashboard's experiment page as plain strings for its view: pure, from the API's report. */

export const METRIC_LABELS: Record<ExperimentMetric, string> = {
  open: 'Opened (people)',
  click: 'Clicked (people)',
  goal: 'Reached the goal',
  mql: 'Became MQL',
  handoff: 'Handed to sales',
};

/** A probability as a reader takes it: never "100%" for what is only very likely. */
export function probabilityText(value: number | null): string {
  if (value === null) return '–';
  if (value > 0.999) return '> 99.9%';
  if (value < 0.001) return '< 0.1%';
  return percent(value);
}

/** A threshold as written in the rule: 95%, 97.5%. */
const thresholdText = (value: number) => percent(value, 1).replace(/\.0%$/, '%');

/** A difference of two rates, in percentage points (never a relative "+20%"). */
const points = (value: number) => (value * 100).toFixed(1);
const liftText = (lift: { difference: number; low: number; high: number }) =>
  `${lift.difference >= 0 ? '+' : ''}${points(lift.difference)} points (${points(lift.low)} to ${points(lift.high)})`;

const cell = (successes: number, rate: number | null, low: number | null, high: number | null) =>
  rate === null ? '–' : `${percent(rate)} (${successes}) · ${percent(low)}–${percent(high)}`;

export function verdictText(verdict: Verdict): string {
  switch (verdict.kind) {
    case 'too_few_entrants':
      return verdict.armsShort.length > 0
        ? `Too early to call: every arm needs ${verdict.minimumPerArm} entrants (${verdict.armsShort.join(', ')} ${verdict.armsShort.length === 1 ? 'has' : 'have'} fewer).`
        : `Too early to call: a comparison needs two arms.`;
    case 'no_clear_leader':
      return `No clear leader: ${verdict.leader} is best with probability ${probabilityText(verdict.probability)}, below the ${thresholdText(verdict.needed)} needed.`;
    case 'leader':
      return `${verdict.armId} leads: best with probability ${probabilityText(verdict.probability)} (at least ${thresholdText(verdict.needed)} needed).`;
    default: {
      const unreachable: never = verdict;
      throw new Error(`unknown verdict ${JSON.stringify(unreachable)}`);
    }
  }
}

function splitView(split: SplitReport, metric: ExperimentMetric) {
  const shown: MetricResult | undefined = split.metrics.find((result) => result.metric === metric);
  if (!shown) throw new Error(`a split report has every metric; ${metric} is missing`);
  const leader = split.winner?.armId ?? (shown.verdict.kind === 'leader' ? shown.verdict.armId : null);
  return {
    stepId: split.stepId,
    inSequence: split.inSequence,
    entered: split.entered,
    verdict: verdictText(shown.verdict),
    rule: split.winnerRule
      ? `${METRIC_LABELS[split.winnerRule.metric]}, after ${split.winnerRule.after} entrants per arm, probability at least ${thresholdText(split.winnerRule.minProbability)}`
      : null,
    winner: split.winner
      ? {
          armId: split.winner.armId,
          metric: isExperimentMetric(split.winner.metric) ? METRIC_LABELS[split.winner.metric] : split.winner.metric,
          probability: probabilityText(split.winner.probability),
          decidedAt: split.winner.decidedAt,
        }
      : null,
    chart: intervalChart(
      shown.arms.map((arm) => ({
        label: arm.armId,
        rate: arm.rate,
        low: arm.interval?.low ?? null,
        high: arm.interval?.high ?? null,
        highlight: arm.armId === leader,
      })),
      `${split.stepId}: ${METRIC_LABELS[metric]} per arm, with 95% intervals`,
    ),
    arms: split.arms.map((arm) => ({
      id: arm.id,
      inSplit: arm.inSplit,
      weight: arm.inSplit && split.inSequence ? String(arm.weight) : '–',
      entered: shown.arms.find((figure) => figure.armId === arm.id)?.entered ?? 0,
      best: probabilityText(shown.arms.find((figure) => figure.armId === arm.id)?.probabilityBest ?? null),
      cells: split.metrics.map((result) => {
        const figure = result.arms.find((candidate) => candidate.armId === arm.id);
        return figure ? cell(figure.successes, figure.rate, figure.interval?.low ?? null, figure.interval?.high ?? null) : '–';
      }),
    })),
  };
}

function holdoutView(holdout: HoldoutReport, metric: ExperimentMetric) {
  const shown = holdout.metrics.find((result) => result.metric === metric);
  return {
    verdict: shown ? verdictText(shown.verdict) : '',
    share: holdout.share > 0 ? `${percent(holdout.share, 0)} held out now` : 'nobody held out now',
    chart: shown
      ? intervalChart(
          [shown.treatment, shown.holdout].map((group) => ({
            label: group.armId,
            rate: group.rate,
            low: group.interval?.low ?? null,
            high: group.interval?.high ?? null,
            highlight: group.armId === 'treatment',
          })),
          `Treatment against holdout: ${METRIC_LABELS[metric]}, with 95% intervals`,
        )
      : '',
    rows: holdout.metrics.map((result) => ({
      metric: METRIC_LABELS[result.metric],
      treatment: cell(result.treatment.successes, result.treatment.rate, result.treatment.interval?.low ?? null, result.treatment.interval?.high ?? null),
      holdout: cell(result.holdout.successes, result.holdout.rate, result.holdout.interval?.low ?? null, result.holdout.interval?.high ?? null),
      lift: result.lift ? liftText(result.lift) : '–',
      better: probabilityText(result.probabilityTreatmentBetter),
    })),
    entered: { treatment: holdout.metrics[0]?.treatment.entered ?? 0, holdout: holdout.metrics[0]?.holdout.entered ?? 0 },
  };
}

export function experimentPageView(report: ExperimentsReport, metric: ExperimentMetric) {
  return {
    sequence: report.sequence,
    metric,
    metricLabel: METRIC_LABELS[metric],
    metrics: EXPERIMENT_METRICS.map((id) => ({ id, label: METRIC_LABELS[id], current: id === metric })),
    columns: EXPERIMENT_METRICS.map((id) => METRIC_LABELS[id]),
    splits: report.splits.map((split) => splitView(split, metric)),
    holdout: report.holdout ? holdoutView(report.holdout, metric) : null,
    empty: report.splits.length === 0 && report.holdout === null,
  };
}
