import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { CONVERSIONS, round, TIMED_STAGES, wilson, type FunnelStage, type Rate, type TimedStage } from './funnel-stats.js';
import { rejectionReasons, repStats, repValues, sequenceCredits, stageCounts, valuesByCurrency, type StageCountsRow } from './funnel.repository.js';
import type { Grouping, ReportQuery } from './report-window.js';

/*
 * The funnel report: for a cohort of leads (created in the period), how many reached each stage,
 * the rate from one stage to the next with its 95% interval, how long they stayed in each stage,
 * the value they converted for, and why sales rejected them; per group when asked.
 */

export interface StageTime {
  /** Leads that left the stage (the ones still in it are not timed). */
  medianSeconds: number | null;
  p90Seconds: number | null;
}

export interface FunnelGroup {
  key: string;
  stages: Record<FunnelStage, number>;
  recycled: number;
  disqualified: number;
  conversions: Array<{ from: FunnelStage; to: FunnelStage } & Rate>;
  timeInStage: Record<TimedStage, StageTime>;
  /** Converted value per ISO 4217 currency (never summed across currencies). */
  value: Record<string, number>;
  rejections: Array<{ reason: string; count: number }>;
  /** By sequence: MQLs, SQLs and customers credited to it under each attribution rule. */
  credit?: Record<'mql' | 'sql' | 'customer', { first: number; last: number; linear: number }>;
}

export interface RepLine {
  rep: string;
  handoffs: number;
  accepted: number;
  acceptRate: Rate;
  medianSecondsToAccept: number | null;
  converted: number;
  /** Converted of accepted (a lead converted without an accept counts as accepted). */
  closingRate: Rate;
  rejected: number;
  slaBreaches: number;
  value: Record<string, number>;
}

export interface FunnelReport {
  from: string;
  to: string;
  by: Grouping | null;
  timeZone: string;
  total: FunnelGroup;
  groups: FunnelGroup[];
  /** Handoffs made in the period, per rep (with by=rep, and on the Pipeline page). */
  reps?: RepLine[];
}

export interface ReportingService {
  funnel(query: ReportQuery, options?: { reps?: boolean }): Promise<FunnelReport>;
}

const seconds = (pair: number[] | null, index: number) => {
  const value = pair?.[index];
  return value === undefined || value === null ? null : round(Number(value), 3);
};

function toGroup(row: StageCountsRow, key: string): FunnelGroup {
  const stages: Record<FunnelStage, number> = { subscriber: row.subscribers, lead: row.leads, mql: row.mqls, sql: row.sqls, customer: row.customers };
  const times: Record<TimedStage, number[] | null> = { subscriber: row.subscriber_time, lead: row.lead_time, mql: row.mql_time, sql: row.sql_time };
  return {
    key,
    stages,
    recycled: row.recycled,
    disqualified: row.disqualified,
    conversions: CONVERSIONS.map(([from, to]) => ({ from, to, ...wilson(stages[to], stages[from]) })),
    timeInStage: Object.fromEntries(
      TIMED_STAGES.map((stage) => [stage, { medianSeconds: seconds(times[stage], 0), p90Seconds: seconds(times[stage], 1) }]),
    ) as Record<TimedStage, StageTime>,
    value: {},
    rejections: [],
  };
}

const EMPTY_ROW: StageCountsRow = {
  key: null,
  subscribers: 0,
  leads: 0,
  mqls: 0,
  sqls: 0,
  customers: 0,
  recycled: 0,
  disqualified: 0,
  subscriber_time: null,
  lead_time: null,
  mql_time: null,
  sql_time: null,
};

export function createReportingService(db: Kysely<Database>): ReportingService {
  return {
    async funnel(query, options = {}) {
      // One after another: embedded PGlite runs one query at a time anyway, and the server's pool is shared.
      const counts = await stageCounts(db, query);
      const values = await valuesByCurrency(db, query);
      const reasons = await rejectionReasons(db, query);
      const credits = query.by === 'sequence' ? await sequenceCredits(db, query) : [];
      const total = toGroup(counts.find((row) => row.key === null) ?? EMPTY_ROW, 'all');
      const groups = counts
        .filter((row) => row.key !== null)
        .map((row) => toGroup(row, row.key ?? ''))
        .sort((a, b) => a.key.localeCompare(b.key));
      const groupOf = (key: string | null) => (key === null ? total : groups.find((group) => group.key === key));
      for (const row of values) {
        const group = groupOf(row.key);
        if (group) group.value[row.currency] = round(Number(row.value), 4);
      }
      for (const row of reasons) groupOf(row.key)?.rejections.push({ reason: row.reason, count: row.count });
      for (const group of [total, ...groups]) group.rejections.sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
      if (query.by === 'sequence') {
        for (const group of groups)
          group.credit = { mql: { first: 0, last: 0, linear: 0 }, sql: { first: 0, last: 0, linear: 0 }, customer: { first: 0, last: 0, linear: 0 } };
        for (const row of credits) {
          const credit = groupOf(row.key)?.credit;
          if (credit) credit[row.stage] = { first: row.first, last: row.last, linear: round(row.linear, 4) };
        }
      }
      const report: FunnelReport = { from: query.from.toISOString(), to: query.to.toISOString(), by: query.by, timeZone: query.timeZone, total, groups };
      if (options.reps || query.by === 'rep') report.reps = await repLines(db, query);
      return report;
    },
  };
}

async function repLines(db: Kysely<Database>, query: ReportQuery): Promise<RepLine[]> {
  const rows = await repStats(db, query);
  const values = await repValues(db, query);
  return rows.map((row) => ({
    rep: row.rep,
    handoffs: row.handoffs,
    accepted: row.accepted,
    acceptRate: wilson(row.accepted, row.handoffs),
    medianSecondsToAccept: row.median_accept_seconds === null ? null : round(Number(row.median_accept_seconds), 3),
    converted: row.converted,
    closingRate: wilson(row.converted, row.accepted),
    rejected: row.rejected,
    slaBreaches: row.breaches,
    value: Object.fromEntries(values.filter((value) => value.rep === row.rep).map((value) => [value.currency, round(Number(value.value), 4)])),
  }));
}
