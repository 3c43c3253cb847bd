import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { RateAssessment } from './rates.js';
import { deliverabilityReport } from './rates.service.js';

/*
 * The dashboard's deliverability block on a sequence page: rates as percentages and the warnings,
 * worst first. Kept here so the dashboard route adds one call.
 */

export interface RateRow {
  label: string;
  handed: number;
  hardBounces: number;
  softBounces: number;
  complaints: number;
  bounceRate: string;
  complaintRate: string;
  warn: boolean;
}

export interface DeliverabilityView {
  days: number;
  overall: RateRow;
  warnings: string[];
  steps: RateRow[];
  domains: RateRow[];
}

const DAYS = 30;
const asPercent = (rate: number | null) => (rate === null ? '–' : `${(rate * 100).toFixed(2)}%`);
const row = (label: string, rates: RateAssessment): RateRow => ({
  label,
  handed: rates.handed,
  hardBounces: rates.hardBounces,
  softBounces: rates.softBounces,
  complaints: rates.complaints,
  bounceRate: asPercent(rates.bounceRate),
  complaintRate: asPercent(rates.complaintRate),
  warn: rates.warnings.length > 0,
});

export async function deliverabilityView(db: Kysely<Database>, sequenceId: string, now: Date): Promise<DeliverabilityView> {
  const report = await deliverabilityReport(db, now, DAYS, sequenceId);
  return {
    days: DAYS,
    overall: row('All emails', report.overall),
    warnings: report.overall.warnings.map((warning) => warning.message),
    steps: report.steps.map((step) => row(step.stepId, step)),
    // The domains with most mail first: gmail.com and yahoo.com are the ones whose rules bite.
    domains: [...report.domains]
      .sort((a, b) => b.handed - a.handed)
      .slice(0, 20)
      .map((domain) => row(domain.domain, domain)),
  };
}
