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
}

/** The highest engagement a lead reached, scored at each of its events (decay only lowers it in between). */
export function peakEngagement(entry: BacktestLead, config: ScoringConfig, minGrade: Grade, now: Date): number {
  let state: EngagementState = {};
  let peak = 0;
  for (const event of inScoringOrder(entry.events, now)) {
    state = applyEvent(state, event, config.rules);
    const score = scoreFromState(entry.lead, state, config.rules, event.occurredAt);
    if (meetsMinimumGrade(score.grade, minGrade)) peak = Math.max(peak, score.engagement);
  }
  return peak;
}

export interface BacktestTally {
  add(entry: BacktestLead): void;
  report(): { leads: number; results: ThresholdResult[] };
}

/** Counts leads one at a time, so a large database is replayed page by page. */
export function createBacktestTally(config: ScoringConfig, thresholds: number[], now: Date): BacktestTally {
  const minGrade = config.lifecycle?.mql.minGrade ?? 'D';
  const results: ThresholdResult[] = thresholds.map((threshold) => ({ threshold, wouldBeMql: 0, accepted: 0, converted: 0, rejected: 0, missedAccepted: 0 }));
  let count = 0;
  return {
    add(entry) {
      count++;
      const peak = peakEngagement(entry, config, minGrade, now);
      const accepted = entry.outcome === 'accepted' || entry.outcome === 'converted';
      for (const result of results) {
        if (peak >= result.threshold) {
          result.wouldBeMql++;
          if (accepted) result.accepted++;
          if (entry.outcome === 'converted') result.converted++;
          if (entry.outcome === 'rejected') result.rejected++;
        } else if (accepted) {
          result.missedAccepted++;
        }
      }
    },
    report: () => ({ leads: count, results: results.map((result) => ({ ...result })) }),
  };
}

export function backtest(leads: Iterable<BacktestLead>, config: ScoringConfig, thresholds: number[], now: Date): { leads: number; results: ThresholdResult[] } {
  const tally = createBacktestTally(config, thresholds, now);
  for (const entry of leads) tally.add(entry);
  return tally.report();
}

/** A plain-text table of the report, for the terminal. */
export function formatBacktest(report: { leads: number; results: ThresholdResult[] }): string {
  const header = ['threshold', 'would be MQL', 'accepted', 'converted', 'rejected', 'accepted missed'];
  const rows = report.results.map((result) => [result.threshold, result.wouldBeMql, result.accepted, result.converted, result.rejected, result.missedAccepted].map(String));
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) => cells.map((cell, column) => cell.padStart(widths[column] ?? 0)).join('  ');
  return [`${report.leads} leads replayed`, line(header), ...rows.map(line)].join('\n');
}
