import { Router, type RequestHandler } from 'express';
import { barChart, lineChart } from '../dashboard/charts.js';
import type { PageKit } from '../dashboard/dashboard-http.js';
import { duration, money, percent } from './funnel-format.js';
import { wilson } from './funnel-stats.js';
import type { FunnelGroup, FunnelReport, ReportingService } from './funnel.service.js';
import { parseReportQuery, type ReportQuery } from './report-window.js';

/*
 * The dashboard's Pipeline page: the lifecycle funnel as a chart, tables by source and by
 * sequence, per rep, and the trend by month, for the leads created in a period (the same report
 * as GET /api/reports/funnel). Admin only: it compares reps and shows every lead's outcome, and
 * a rep's session is limited to their own handoffs (docs/reporting.md).
 */

export interface PipelineDeps {
  reporting: ReportingService;
  kit: PageKit;
  signedIn: RequestHandler;
  adminOnly: RequestHandler;
}

const STAGE_LABELS = { subscriber: 'Subscribers', lead: 'Leads', mql: 'MQL', sql: 'Accepted (SQL)', customer: 'Customers' } as const;

function line(group: FunnelGroup) {
  const closing = wilson(group.stages.customer, group.stages.sql);
  return {
    key: group.key,
    leads: group.stages.subscriber,
    mql: group.stages.mql,
    accepted: group.stages.sql,
    customers: group.stages.customer,
    closingRate: percent(closing),
    value: money(group.value),
  };
}

export function pipelineRoutes(deps: PipelineDeps): Router {
  const router = Router();
  const { kit } = deps;

  router.get('/dashboard/pipeline', deps.signedIn, deps.adminOnly, async (req, res) => {
    const input = Object.fromEntries(Object.entries(req.query).filter(([key, value]) => !(key === 'from' || key === 'to' || key === 'tz') || value !== ''));
    const parsed = parseReportQuery(input, new Date());
    if (!parsed.ok) {
      return kit.notice(req, res, 400, 'Period not valid', `The ${parsed.field} parameter is not valid: ${parsed.message}.`, {
        href: '/dashboard/pipeline',
        text: 'The last 365 days',
      });
    }
    if (parsed.query.by !== null)
      return kit.notice(req, res, 400, 'Period not valid', 'The by parameter is not used here: the page shows every grouping.', {
        href: '/dashboard/pipeline',
        text: 'The last 365 days',
      });
    const query: ReportQuery = parsed.query;
    // One grouping at a time: on embedded PGlite the queries run one after another anyway.
    const bySource = await deps.reporting.funnel({ ...query, by: 'source' }, { reps: true });
    const bySequence = await deps.reporting.funnel({ ...query, by: 'sequence' });
    const byMonth = await deps.reporting.funnel({ ...query, by: 'month' });
    kit.page(req, res, 200, 'pipeline', 'Pipeline', 'pipeline', pageData(bySource, bySequence, byMonth, query));
  });

  return router;
}

function pageData(bySource: FunnelReport, bySequence: FunnelReport, byMonth: FunnelReport, query: ReportQuery) {
  const total = bySource.total;
  return {
    period: { from: bySource.from.slice(0, 10), to: new Date(query.to.getTime() - 1).toISOString().slice(0, 10), timeZone: query.timeZone },
    funnel: barChart(
      (Object.keys(STAGE_LABELS) as Array<keyof typeof STAGE_LABELS>).map((stage) => ({ label: STAGE_LABELS[stage], value: total.stages[stage] })),
      'Lifecycle funnel: leads reaching each stage',
    ),
    conversions: total.conversions.map((entry) => ({ step: `${STAGE_LABELS[entry.from]} → ${STAGE_LABELS[entry.to]}`, rate: percent(entry) })),
    times: (['subscriber', 'lead', 'mql', 'sql'] as const).map((stage) => ({
      stage: STAGE_LABELS[stage],
      median: duration(total.timeInStage[stage].medianSeconds),
      p90: duration(total.timeInStage[stage].p90Seconds),
    })),
    total: line(total),
    sources: bySource.groups.map(line),
    sequences: bySequence.groups.map((group) => ({ ...line(group), lastTouch: group.credit?.customer.last ?? 0, linear: group.credit?.customer.linear ?? 0 })),
    reps: (bySource.reps ?? []).map((rep) => ({
      rep: rep.rep,
      handoffs: rep.handoffs,
      acceptRate: percent(rep.acceptRate),
      medianToAccept: duration(rep.medianSecondsToAccept),
      closingRate: percent(rep.closingRate),
      slaBreaches: rep.slaBreaches,
      value: money(rep.value),
    })),
    months: byMonth.groups.map(line),
    trend: lineChart(
      byMonth.groups.map((group) => ({ at: new Date(`${group.key}-01T00:00:00Z`), value: group.stages.mql })),
      'MQLs per month',
    ),
    rejections: total.rejections.slice(0, 10),
  };
}
