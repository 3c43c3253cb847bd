/*
 * Bounce and complaint rates, and whether they cross the lines mailbox providers draw (pure).
 * Gmail's and Yahoo's bulk-sender rules (2024) ask for a spam-complaint rate below 0.3% (aim for
 * under 0.1%). Neither publishes a bounce threshold; 2% is the common deliverability rule of thumb
 * (ESPs start reviewing accounts around there), used here as a warning only.
 */

export const COMPLAINT_RATE_LIMIT = 0.003;
export const COMPLAINT_RATE_TARGET = 0.001;
export const BOUNCE_RATE_LIMIT = 0.02;

export interface FeedbackCounts {
  /** Emails handed to SMTP: the denominator of the bounce rate. */
  handed: number;
  /** Emails the receiving side accepted: the denominator of the complaint rate. */
  sent: number;
  hardBounces: number;
  softBounces: number;
  complaints: number;
}

export type RateWarning =
  { kind: 'complaints_over_limit'; message: string } | { kind: 'complaints_over_target'; message: string } | { kind: 'bounces_over_limit'; message: string };

export interface RateAssessment extends FeedbackCounts {
  /** Hard bounces per email handed to SMTP; null with nothing handed. */
  bounceRate: number | null;
  /** Complaints per email accepted; null with nothing accepted. */
  complaintRate: number | null;
  warnings: RateWarning[];
}

const percent = (rate: number) => `${(rate * 100).toFixed(2)}%`;

export function assessRates(counts: FeedbackCounts): RateAssessment {
  const bounceRate = counts.handed > 0 ? counts.hardBounces / counts.handed : null;
  const complaintRate = counts.sent > 0 ? counts.complaints / counts.sent : null;
  const warnings: RateWarning[] = [];
  if (complaintRate !== null && complaintRate > COMPLAINT_RATE_LIMIT) {
    warnings.push({ kind: 'complaints_over_limit', message: `complaint rate ${percent(complaintRate)} is above the 0.3% Gmail and Yahoo allow bulk senders` });
  } else if (complaintRate !== null && complaintRate > COMPLAINT_RATE_TARGET) {
    warnings.push({ kind: 'complaints_over_target', message: `complaint rate ${percent(complaintRate)} is above the 0.1% Gmail advises staying under` });
  }
  if (bounceRate !== null && bounceRate > BOUNCE_RATE_LIMIT) {
    warnings.push({ kind: 'bounces_over_limit', message: `hard-bounce rate ${percent(bounceRate)} is above 2%: clean the list before sending more` });
  }
  return { ...counts, bounceRate, complaintRate, warnings };
}
