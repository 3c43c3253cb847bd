import { meetsMinimumGrade } from './lifecycle.js';
import { applyEvent, inScoringOrder, scoreFromState, type EngagementState, type Grade, type ScoredEvent, type ScoredLead } from './score.js';
import type { ScoringConfig } from './scoring-config.js';

/*
 * The scoring backtest: replays each lead's stored events through a scoring file and asks, for
 * several MQL thresholds, which leads would have crossed, and what sales made of the ones it
 * actually got. Pure: leads, events, outcomes and `now` in, a report out.
 */

/** What sales decided about a lead's latest handoff; null when it never had one. */
export type SalesOutcome = 'pending' | 'accepted' | 'rejected' | 'converted' | null;

export interface BacktestLead {
  lead: ScoredLead;
  events: ScoredEvent[];
  outcome: SalesOutcome;
  /** Set when the lead later became a customer: when it was actually first handed off. */
  customer?: { handedOffAt: Date } | null;
}

export interface ThresholdResult {
  threshold: number;
  /** Leads whose engagement reached the threshold (with the minimum grade) at some point. */
  wouldBeMql: number;
  /** Of those, how many sales actually accepted (accepted or converted), converted, rejected. */
  accepted: number;
  converted: number;
  rejected: number;
  /** Accepted leads (accepted or converted) this threshold would have missed. */
  missedAccepted: number;
  /** Leads that later became customers which this threshold would have handed off, and missed. */
  customers: number;
  customersMissed: number;
  /**
   * For those customers: the median of (actual first handoff − when the score reached this
   * threshold), in days. Positive: the threshold would have handed them off that much earlier.
   */
  medianDaysEarlier: number | null;
}

/**
 * When the lead's engagement (with the minimum grade) first reached each threshold, scored at each
 * of its events (decay only lowers it in between); null where it never did. The peak is the same walk.
 */
export function crossingTimes(entry: BacktestLead, config: ScoringConfig, minGrade: Grade, thresholds: number[], now: Date): Array<Date | null> {
  let state: EngagementState = {};
  const crossed: Array<Date | null> = thresholds.map(() => null);
  for (const event of inScoringOrder(entry.events, now)) {
    state = applyEvent(state, event, config.rules);
    const score = scoreFromState(entry.lead, state, config.rules, event.occurredAt);
    if (!meetsMinimumGrade(score.grade, minGrade)) continue;
    thresholds.forEach((threshold, index) => {
      if (crossed[index] === null && score.engagement >= threshold) crossed[index] = event.occurredAt;
    });
  }
  return crossed;
}

export interface BacktestTally {
  add(entry: BacktestLead): void;
  report(): { leads: number; results: ThresholdResult[] };
}

/** Counts leads one at a time, so a large database is replayed page by page. */
export function createBacktestTally(config: ScoringConfig, thresholds: number[], now: Date): BacktestTally {
  const minGrade = config.lifecycle?.mql.minGrade ?? 'D';
  const results: ThresholdResult[] = thresholds.map((threshold) => ({
    threshold,
    wouldBeMql: 0,
    accepted: 0,
    converted: 0,
    rejected: 0,
    missedAccepted: 0,
    customers: 0,
    customersMissed: 0,
    medianDaysEarlier: null,
  }));
  const earlierMs: number[][] = thresholds.map(() => []);
  let count = 0;
  return {
    add(entry) {
      count++;
      const crossed = crossingTimes(entry, config, minGrade, thresholds, now);
      const accepted = entry.outcome === 'accepted' || entry.outcome === 'converted';
      results.forEach((result, index) => {
        const at = crossed[index] ?? null;
        if (at !== null) {
          result.wouldBeMql++;
          if (accepted) result.accepted++;
          if (entry.outcome === 'converted') result.converted++;
          if (entry.outcome === 'rejected') result.rejected++;
          if (entry.customer) {
            result.customers++;
            earlierMs[index]?.push(entry.customer.handedOffAt.getTime() - at.getTime());
          }
        } else {
          if (accepted) result.missedAccepted++;
          if (entry.customer) result.customersMissed++;
        }
      });
    },
    report: () => ({
      leads: count,
      results: results.map((result, index) => ({ ...result, medianDaysEarlier: medianDays(earlierMs[index] ?? []) })),
    }),
  };
}

export function backtest(leads: Iterable<BacktestLead>, config: ScoringConfig, thresholds: number[], now: Date): { leads: number; results: ThresholdResult[] } {
  const tally = createBacktestTally(config, thresholds, now);
  for (const entry of leads) tally.add(entry);
  return tally.report();
}

function medianDays(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = (sorted.length - 1) / 2;
  const median = ((sorted[Math.floor(middle)] ?? 0) + (sorted[Math.ceil(middle)] ?? 0)) / 2;
  return Math.round((median / 86_400_000) * 10) / 10;
}

/** A plain-text table of the report, for the terminal. */
export function formatBacktest(report: { leads: number; results: ThresholdResult[] }): string {
  const header = ['threshold', 'would be MQL', 'accepted', 'converted', 'rejected', 'accepted missed', 'customers caught', 'days earlier'];
  const rows = report.results.map((result) => [
    ...[result.threshold, result.wouldBeMql, result.accepted, result.converted, result.rejected, result.missedAccepted].map(String),
    `${result.customers}/${result.customers + result.customersMissed}`,
    result.medianDaysEarlier === null ? '–' : String(result.medianDaysEarlier),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  ');
  return [`${report.leads} leads replayed`, line(header), ...rows.map(line)].join('\n');
}
