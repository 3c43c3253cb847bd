/*
 * The statistics of experiment results, pure and deterministic (docs/experiments.md says why
 * these methods):
 * - a 95% Wilson score interval for each per-lead proportion (sound at 0 successes and small n,
 *   where the textbook Wald interval collapses to a point or leaves [0, 1]);
 * - the probability that each arm's true rate is the highest, from Beta(1 + successes,
 *   1 + failures) posteriors, integrated numerically (Gauss-Legendre), never sampled, so the same
 *   counts always give the same figures;
 * - Newcombe's hybrid score interval for the difference of two proportions (treatment against the
 *   holdout group).
 */

/** The normal quantile for a two-sided 95% interval. */
export const Z_95 = 1.959963984540054;

export interface Proportion {
  successes: number;
  trials: number;
}

export interface Interval {
  low: number;
  high: number;
}

/** Wilson score interval; null when there are no trials (nothing to estimate). */
export function wilsonInterval({ successes, trials }: Proportion, z = Z_95): Interval | null {
  if (trials <= 0) return null;
  const z2 = z * z;
  const centre = (successes + z2 / 2) / (trials + z2);
  const half = (z / (trials + z2)) * Math.sqrt((successes * (trials - successes)) / trials + z2 / 4);
  // Exactly 0 and 1 at the ends (rounding leaves 1e-17 otherwise).
  return { low: successes <= 0 ? 0 : Math.max(0, centre - half), high: successes >= trials ? 1 : Math.min(1, centre + half) };
}

/** Newcombe (1998) method 10: the interval of p1 − p2 from the two Wilson intervals; null without trials on either side. */
export function differenceInterval(first: Proportion, second: Proportion, z = Z_95): (Interval & { difference: number }) | null {
  const a = wilsonInterval(first, z);
  const b = wilsonInterval(second, z);
  if (!a || !b) return null;
  const p1 = first.successes / first.trials;
  const p2 = second.successes / second.trials;
  const difference = p1 - p2;
  return {
    difference,
    low: Math.max(-1, difference - Math.sqrt((p1 - a.low) ** 2 + (b.high - p2) ** 2)),
    high: Math.min(1, difference + Math.sqrt((a.high - p1) ** 2 + (p2 - b.low) ** 2)),
  };
}

// Lanczos approximation (g = 7, 9 terms): relative error around 1e-15 for x > 0.
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905, -0.13857109526572012,
  9.9843695780195716e-6, 1.5056327351493116e-7,
];

export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const shifted = x - 1;
  let sum = LANCZOS[0] ?? 0;
  for (let index = 1; index < LANCZOS.length; index++) sum += (LANCZOS[index] ?? 0) / (shifted + index);
  const t = shifted + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (shifted + 0.5) * Math.log(t) - t + Math.log(sum);
}

export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

export function betaDensity(x: number, a: number, b: number, lnBeta = logBeta(a, b)): number {
  return Math.exp(logBetaDensity(x, a, b, lnBeta));
}

function logBetaDensity(x: number, a: number, b: number, lnBeta: number): number {
  if (x < 0 || x > 1) return -Infinity;
  // 0 · log(0) is 0 here: Beta(1, b) has density b at 0.
  const left = a === 1 ? 0 : (a - 1) * Math.log(x);
  const right = b === 1 ? 0 : (b - 1) * Math.log(1 - x);
  return left + right - lnBeta;
}

// Where a posterior's density is below e^-700, its distribution function is 0 or 1 to double
// precision (Beta(a ≥ 1, b ≥ 1) is log-concave): no continued fraction needed there.
const NEGLIGIBLE_LOG_DENSITY = -700;

/** The regularized incomplete beta function I_x(a, b): the Beta(a, b) distribution function. */
export function betaCdf(x: number, a: number, b: number, lnBeta = logBeta(a, b)): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(a * Math.log(x) + b * Math.log(1 - x) - lnBeta);
  // The continued fraction converges fast below the mean; above it, use the symmetry I_x(a,b) = 1 − I_{1−x}(b,a).
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

/** Lentz's method for the continued fraction of I_x(a, b) (Numerical Recipes, §6.4). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const TINY = 1e-300;
  const EPSILON = 1e-15;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < TINY) d = TINY;
  d = 1 / d;
  let result = d;
  for (let m = 1; m <= 100_000; m++) {
    const even = (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m));
    d = 1 + even * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + even / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    result *= d * c;
    const odd = (-(a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1));
    d = 1 + odd * d;
    if (Math.abs(d) < TINY) d = TINY;
    c = 1 + odd / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const step = d * c;
    result *= step;
    if (Math.abs(step - 1) < EPSILON) return result;
  }
  return result;
}

/** Gauss-Legendre nodes and weights on [-1, 1], found by Newton's method on P_n. */
function gaussLegendre(points: number): Array<{ node: number; weight: number }> {
  const rule: Array<{ node: number; weight: number }> = [];
  for (let index = 1; index <= points; index++) {
    let x = Math.cos((Math.PI * (index - 0.25)) / (points + 0.5));
    let derivative = 0;
    for (let iteration = 0; iteration < 100; iteration++) {
      let previous = 1;
      let current = x;
      for (let degree = 2; degree <= points; degree++) [previous, current] = [current, ((2 * degree - 1) * x * current - (degree - 1) * previous) / degree];
      derivative = (points * (x * current - previous)) / (x * x - 1);
      const delta = current / derivative;
      x -= delta;
      if (Math.abs(delta) < 1e-16) break;
    }
    rule.push({ node: x, weight: 2 / ((1 - x * x) * derivative * derivative) });
  }
  return rule;
}

const RULE = gaussLegendre(20);
// Where each posterior's mass lies, in standard deviations from its mean: every integration piece
// is at most half a standard deviation of any posterior it crosses near that posterior's mass.
const BREAKS_IN_SD = [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 10, 12, 15, 20, 25, 30, 40];

/**
 * P(arm i has the highest true rate) for each arm, with uniform Beta(1, 1) priors:
 * ∫ f_i(x) · Π_{j≠i} F_j(x) dx, by 20-point Gauss-Legendre over pieces cut around every
 * posterior's mean. Deterministic; the figures sum to 1 within 1e-9.
 */
export function probabilityBest(arms: readonly Proportion[]): number[] {
  if (arms.length === 0) return [];
  if (arms.length === 1) return [1];
  const posteriors = arms.map(({ successes, trials }) => {
    const a = 1 + successes;
    const b = 1 + Math.max(0, trials - successes);
    const mean = a / (a + b);
    const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
    return { a, b, mean, sd, lnBeta: logBeta(a, b) };
  });
  const cuts = new Set<number>([0, 1]);
  for (const { mean, sd } of posteriors) {
    for (const k of BREAKS_IN_SD) {
      for (const cut of [mean - k * sd, mean + k * sd]) if (cut > 0 && cut < 1) cuts.add(cut);
    }
  }
  const sorted = [...cuts].sort((x, y) => x - y);
  const totals = posteriors.map(() => 0);
  for (let piece = 0; piece + 1 < sorted.length; piece++) {
    const from = sorted[piece] ?? 0;
    const to = sorted[piece + 1] ?? 1;
    if (to - from <= 0) continue;
    const half = (to - from) / 2;
    for (const { node, weight } of RULE) {
      const x = from + half * (node + 1);
      const logDensities = posteriors.map(({ a, b, lnBeta }) => logBetaDensity(x, a, b, lnBeta));
      const cdfs = posteriors.map(({ a, b, mean, lnBeta }, index) => {
        if ((logDensities[index] ?? 0) < NEGLIGIBLE_LOG_DENSITY) return x < mean ? 0 : 1;
        return betaCdf(x, a, b, lnBeta);
      });
      posteriors.forEach((_, index) => {
        const logDensity = logDensities[index] ?? -Infinity;
        if (logDensity < NEGLIGIBLE_LOG_DENSITY) return;
        let others = 1;
        cdfs.forEach((cdf, other) => {
          if (other !== index) others *= cdf;
        });
        if (others > 0) totals[index] = (totals[index] ?? 0) + half * weight * Math.exp(logDensity) * others;
      });
    }
  }
  return totals.map((total) => Math.min(1, Math.max(0, total)));
}
