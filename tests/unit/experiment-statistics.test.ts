import { differenceInterval, probabilityBest, wilsonInterval } from '../../src/experiments/statistics.js';

/*
 * The experiment statistics against published values and against values computed here by other
 * means: Newcombe's published tables for the Wilson and the difference intervals, Evan Miller's
 * closed-form sum for P(B > A) under Beta posteriors (with a log-gamma of this file's own, a
 * Stirling series, not the Lanczos one of the code), and a plain midpoint rule for three arms.
 */

const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

describe('Wilson score interval', () => {
  // Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17:857–872, Table I, method 3.
  it.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('%i of %i gives %f to %f as published', (successes, trials, low, high) => {
    const interval = wilsonInterval({ successes, trials });
    expect(interval && [round4(interval.low), round4(interval.high)]).toEqual([low, high]);
  });

  it('has no interval without trials, and reaches exactly 1 when every trial succeeded', () => {
    expect(wilsonInterval({ successes: 0, trials: 0 })).toBeNull();
    expect(wilsonInterval({ successes: 12, trials: 12 })?.high).toBe(1);
  });
});

describe('Newcombe hybrid score interval for a difference of two proportions', () => {
  // Newcombe (1998), "Interval estimation for the difference between independent proportions: comparison of eleven methods", Statistics in Medicine 17:873–890, Table II, method 10.
  it.each([
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
  ])('%i/%i − %i/%i gives %f to %f as published', (s1, n1, s2, n2, low, high) => {
    const interval = differenceInterval({ successes: s1, trials: n1 }, { successes: s2, trials: n2 });
    expect(interval && [round4(interval.difference), round4(interval.low), round4(interval.high)]).toEqual([round4(s1 / n1 - s2 / n2), low, high]);
  });
});

/** ln Γ(x) by the Stirling series after shifting x above 15: independent of the code's Lanczos. */
function stirlingLogGamma(x: number): number {
  let shift = 0;
  let value = x;
  while (value < 15) {
    shift += Math.log(value);
    value += 1;
  }
  const inverse = 1 / value;
  const inverse2 = inverse * inverse;
  const series = inverse * (1 / 12 - inverse2 * (1 / 360 - inverse2 * (1 / 1260 - inverse2 * (1 / 1680 - inverse2 / 1188))));
  return (value - 0.5) * Math.log(value) - value + 0.5 * Math.log(2 * Math.PI) + series - shift;
}
const stirlingLogBeta = (a: number, b: number) => stirlingLogGamma(a) + stirlingLogGamma(b) - stirlingLogGamma(a + b);

/** Evan Miller, "Formulas for Bayesian A/B testing" (2015): exact P(p_B > p_A) for Beta posteriors. */
function millerProbabilityBBeatsA(successesA: number, trialsA: number, successesB: number, trialsB: number): number {
  const [alphaA, betaA, alphaB, betaB] = [1 + successesA, 1 + trialsA - successesA, 1 + successesB, 1 + trialsB - successesB];
  let total = 0;
  for (let i = 0; i < alphaB; i++) {
    total += Math.exp(stirlingLogBeta(alphaA + i, betaA + betaB) - Math.log(betaB + i) - stirlingLogBeta(1 + i, betaB) - stirlingLogBeta(alphaA, betaA));
  }
  return total;
}

describe('probability of being the best arm', () => {
  it.each([
    [20, 200, 35, 210],
    [0, 10, 1, 10],
    [3, 40, 3, 40],
    [120, 1000, 100, 1000],
    [500, 10_000, 560, 10_000],
    [2, 500, 9, 480],
    [4_000, 50_000, 4_100, 50_000],
  ])('A %i/%i against B %i/%i matches the closed form to 3 decimals', (sa, na, sb, nb) => {
    const [a, b] = probabilityBest([
      { successes: sa, trials: na },
      { successes: sb, trials: nb },
    ]);
    const exact = millerProbabilityBBeatsA(sa, na, sb, nb);
    expect(b).toBeCloseTo(exact, 3);
    expect(a).toBeCloseTo(1 - exact, 3);
  });

  it('splits evenly between identical arms, and sums to 1', () => {
    const three = probabilityBest([
      { successes: 30, trials: 300 },
      { successes: 30, trials: 300 },
      { successes: 30, trials: 300 },
    ]);
    for (const probability of three) expect(probability).toBeCloseTo(1 / 3, 6);
  });

  it('matches a plain midpoint integration for three arms of different sizes', () => {
    const arms = [
      { successes: 12, trials: 150 },
      { successes: 30, trials: 260 },
      { successes: 9, trials: 70 },
    ];
    const computed = probabilityBest(arms);
    // Independent: densities and distribution functions tabulated on a fine grid by cumulative sums.
    const steps = 200_000;
    const width = 1 / steps;
    const params = arms.map(({ successes, trials }) => ({ a: 1 + successes, b: 1 + trials - successes }));
    const cdf = params.map(() => 0);
    const best = params.map(() => 0);
    for (let step = 0; step < steps; step++) {
      const x = (step + 0.5) * width;
      const density = params.map(({ a, b }) => Math.exp((a - 1) * Math.log(x) + (b - 1) * Math.log(1 - x) - stirlingLogBeta(a, b)));
      const middle = cdf.map((value, index) => value + ((density[index] ?? 0) * width) / 2);
      density.forEach((value, index) => {
        const others = middle.reduce((product, other, j) => (j === index ? product : product * other), 1);
        best[index] = (best[index] ?? 0) + value * others * width;
      });
      density.forEach((value, index) => (cdf[index] = (cdf[index] ?? 0) + value * width));
    }
    computed.forEach((probability, index) => expect(probability).toBeCloseTo(best[index] ?? Number.NaN, 3));
    expect(computed.reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 6);
  });

  it('gives the same figures on every call (no sampling)', () => {
    const arms = [
      { successes: 41, trials: 377 },
      { successes: 55, trials: 380 },
    ];
    expect(probabilityBest(arms)).toEqual(probabilityBest(arms));
  });
});
