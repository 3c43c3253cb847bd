import { allMetricResults, armRows, guardOf, holdoutComparison } from '../../src/experiments/experiment-results.js';
import { experimentPageView, probabilityText } from '../../src/experiments/experiment-view.js';
import type { ExperimentsReport } from '../../src/experiments/experiments.service.js';

/* The experiment page's content for a split the sequence defines, with a winner rule and a recorded winner (pure). */

const rule = { metric: 'click' as const, after: 500, minProbability: 0.975 };
const arms = [
  { id: 'short', weight: 70, next: 'email-short' },
  { id: 'long', weight: 30, next: 'email-long' },
];
const rows = armRows(arms, [
  { armId: 'short', entered: 700, open: 300, click: 35, goal: 7, mql: 2, handoff: 2 },
  { armId: 'long', entered: 300, open: 140, click: 33, goal: 6, mql: 1, handoff: 1 },
]);
const report: ExperimentsReport = {
  sequence: { id: 'subject-lines', name: 'Subject line test', holdout: 0.1 },
  splits: [
    {
      stepId: 'subject-test',
      inSequence: true,
      arms: arms.map((arm) => ({ ...arm, inSplit: true })),
      winnerRule: rule,
      guard: guardOf(rule),
      winner: { stepId: 'subject-test', armId: 'long', metric: 'click', probability: 0.9992, figures: {}, decidedAt: new Date('2026-12-08T02:00:00Z') },
      entered: 1000,
      metrics: allMetricResults(rows, guardOf(rule)),
    },
  ],
  holdout: {
    share: 0.1,
    metrics: holdoutComparison([
      { armId: 'treatment', entered: 1000, open: 440, click: 68, goal: 13, mql: 3, handoff: 3 },
      { armId: 'holdout', entered: 110, open: 0, click: 0, goal: 0, mql: 0, handoff: 0 },
    ]),
  },
};

describe('the experiment page content', () => {
  it('draws both arms with their intervals, states the rule, the verdict and the winner, and a table of every metric', () => {
    const view = experimentPageView(report, 'click');
    const [split] = view.splits;
    expect(split?.chart.match(/class="interval"/g)).toHaveLength(2);
    expect(split?.chart).toContain('short: 5.0% (95%: 3.6%–6.9%)');
    expect(split?.chart).toContain('long: 11.0% (95%: 7.9%–15.0%)');
    expect(split?.rule).toBe('Clicked (people), after 500 entrants per arm, probability at least 97.5%');
    expect(split?.verdict).toBe('Too early to call: every arm needs 500 entrants (long has fewer).');
    expect(split?.winner).toMatchObject({ armId: 'long', probability: '> 99.9%' });
    expect(split?.arms.map((arm) => [arm.id, arm.weight, arm.entered, arm.cells.length])).toEqual([
      ['short', '70', 700, 5],
      ['long', '30', 300, 5],
    ]);
    // By hand: Wilson 68/1000 is 5.40–8.53%, 0/110 is 0–3.37%; Newcombe: 6.8 − √(1.40² + 3.37²) = 3.1, 6.8 + 1.73 = 8.5.
    expect(view.holdout?.verdict).toBe('treatment leads: best with probability > 99.9% (at least 95% needed).');
    expect(view.holdout?.rows.find((row) => row.metric === 'Clicked (people)')?.lift).toBe('+6.8 points (3.1 to 8.5)');
  });

  it('writes probabilities as a reader takes them', () => {
    expect([probabilityText(0.99995), probabilityText(0.00004), probabilityText(0.5), probabilityText(null)]).toEqual(['> 99.9%', '< 0.1%', '50.0%', '–']);
  });
});
