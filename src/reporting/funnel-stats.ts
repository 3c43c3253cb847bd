/*
 * The arithmetic of the funnel report, pure: Wilson score intervals for conversion rates, and
 * the stage list that names what "reached" means. Percentiles are computed by the database
 * (percentile_cont: linear interpolation between the closest ranks), the same definition as
 * `percentile` here, which the tests and the plain-JS check use.
 */

export const FUNNEL_STAGES = ['subscriber', 'lead', 'mql', 'sql', 'customer'] as const;
export type FunnelStage = (typeof FUNNEL_STAGES)[number];
/** Stages whose time is measured: from first entering to first leaving. */
export const TIMED_STAGES = ['subscriber', 'lead', 'mql', 'sql'] as const;
export type TimedStage = (typeof TIMED_STAGES)[number];

/** The steps between stages the report gives a rate for. */
export const CONVERSIONS: ReadonlyArray<readonly [FunnelStage, FunnelStage]> = [
  ['subscriber', 'lead'],
  ['lead', 'mql'],
  ['mql', 'sql'],
  ['sql', 'customer'],
  ['mql', 'customer'],
];

export interface Rate {
  /** successes / trials, null with no trials. */
  rate: number | null;
  /** 95% Wilson score interval. */
  low: number | null;
  high: number | null;
}

const Z95 = 1.959963984540054;

/**
 * Wilson's interval stays inside [0, 1] and behaves at 0 and at n (where the normal
 * approximation gives a zero-width interval): what small groups of leads need.
 */
export function wilson(successes: number, trials: number, z = Z95): Rate {
  if (trials <= 0) return { rate: null, low: null, high: null };
  const p = successes / trials;
  const z2 = z * z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (z / (1 + z2 / trials)) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials));
  return { rate: round(p), low: round(Math.max(0, centre - half)), high: round(Math.min(1, centre + half)) };
}

/** percentile_cont: linear interpolation between the closest ranks; null for no values. */
export function percentile(values: number[], fraction: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const position = fraction * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.ceil(position);
  const low = sorted[below] ?? 0;
  const high = sorted[above] ?? low;
  return low + (high - low) * (position - below);
}

export function round(value: number, digits = 4): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
