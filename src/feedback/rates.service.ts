import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { assessRates, BOUNCE_RATE_LIMIT, COMPLAINT_RATE_LIMIT, COMPLAINT_RATE_TARGET, type RateAssessment } from './rates.js';
import { feedbackCounts, type GroupCounts } from './rates.repository.js';

export interface DeliverabilityReport {
  since: string;
  thresholds: { complaintRate: number; complaintRateTarget: number; bounceRate: number };
  overall: RateAssessment;
  sequences: Array<RateAssessment & { sequenceId: string }>;
  steps: Array<RateAssessment & { sequenceId: string; stepId: string }>;
  domains: Array<RateAssessment & { domain: string }>;
}

/** Rates over the sends of the last `days` days, optionally of one sequence. */
export async function deliverabilityReport(db: Kysely<Database>, now: Date, days: number, sequenceId: string | null = null): Promise<DeliverabilityReport> {
  const since = new Date(now.getTime() - days * 86_400_000);
  const [sequences, steps, domains] = await Promise.all([
    feedbackCounts(db, 'sequence', since, sequenceId),
    feedbackCounts(db, 'step', since, sequenceId),
    feedbackCounts(db, 'domain', since, sequenceId),
  ]);
  const total = sequences.reduce(
    (sum, row) => ({
      handed: sum.handed + row.handed,
      sent: sum.sent + row.sent,
      hardBounces: sum.hardBounces + row.hardBounces,
      softBounces: sum.softBounces + row.softBounces,
      complaints: sum.complaints + row.complaints,
    }),
    { handed: 0, sent: 0, hardBounces: 0, softBounces: 0, complaints: 0 },
  );
  const assessed = <T extends GroupCounts>(row: T) => ({ ...row, ...assessRates(row) });
  return {
    since: since.toISOString(),
    thresholds: { complaintRate: COMPLAINT_RATE_LIMIT, complaintRateTarget: COMPLAINT_RATE_TARGET, bounceRate: BOUNCE_RATE_LIMIT },
    overall: assessRates(total),
    sequences: sequences.map((row) => ({ ...assessed(row), sequenceId: row.sequenceId ?? '' })),
    steps: steps.map((row) => ({ ...assessed(row), sequenceId: row.sequenceId ?? '', stepId: row.stepId ?? '' })),
    domains: domains.map((row) => ({ ...assessed(row), domain: row.domain ?? '' })),
  };
}
