import { armRows, decideWinner, guardOf, holdoutComparison, metricResult, MINIMUM_ENTRANTS_FLOOR } from '../../src/experiments/experiment-results.js';
import type { ArmCounts } from '../../src/experiments/experiments.repository.js';
import { experimentsOf } from '../../src/experiments/split-definition.js';
import type { Sequence, Step } from '../../src/sequences/sequence.js';

/* From counts to verdicts, pure: the minimum-sample guard, the winner rule, removed arms, the holdout lift. */

const counts = (armId: string, entered: number, click: number, goal = 0): ArmCounts => ({ armId, entered, open: 0, click, goal, mql: 0, handoff: 0 });
const arms = [
  { id: 'a', weight: 50, next: 'x' },
  { id: 'b', weight: 50, next: 'y' },
];

describe('the minimum-sample guard', () => {
  it.each([
    // [entrants per arm, clicks a, clicks b, rule after, verdict]
    [99, 5, 40, 100, 'too_few_entrants'],
    [100, 5, 40, 100, 'leader'],
    [100, 20, 24, 100, 'no_clear_leader'],
    [29, 0, 29, 10, 'too_few_entrants'],
    [30, 0, 29, 10, 'leader'],
  ])('with %i entrants per arm (%i against %i clicks, after %i): %s', (entered, a, b, after, kind) => {
    const guard = guardOf({ metric: 'click', after, minProbability: 0.95 });
    const result = metricResult(armRows(arms, [counts('a', entered, a), counts('b', entered, b)]), 'click', guard);
    expect(result.verdict.kind).toBe(kind);
  });

  it('never goes below the floor, whatever the rule says', () => {
    expect(guardOf({ metric: 'goal', after: 1, minProbability: 0.5 }).minimumPerArm).toBe(MINIMUM_ENTRANTS_FLOOR);
    expect(guardOf(null)).toEqual({ minimumPerArm: 100, minProbability: 0.95 });
  });

  it('counts an arm nobody reached yet as zero, so the split is too early to call', () => {
    const result = metricResult(armRows(arms, [counts('a', 500, 50)]), 'click', guardOf(null));
    expect(result.arms.map((arm) => [arm.armId, arm.entered, arm.rate, arm.interval])).toEqual([
      ['a', 500, 0.1, expect.any(Object)],
      ['b', 0, null, null],
    ]);
    expect(result.verdict).toEqual({ kind: 'too_few_entrants', minimumPerArm: 100, armsShort: ['b'] });
  });

  it('shows an arm an edit removed, without comparing it', () => {
    const result = metricResult(armRows(arms, [counts('a', 200, 10), counts('b', 200, 12), counts('gone', 200, 90)]), 'click', guardOf(null));
    expect(result.arms.find((arm) => arm.armId === 'gone')).toMatchObject({ inSplit: false, probabilityBest: null, successes: 90 });
    expect(result.verdict.kind).toBe('no_clear_leader');
  });
});

describe('the winner rule', () => {
  it('names the winner with the figures it was decided on, once the rule is met', () => {
    const decision = decideWinner(armRows(arms, [counts('a', 600, 30, 5), counts('b', 600, 60, 6)]), { metric: 'click', after: 500, minProbability: 0.95 });
    expect(decision).toMatchObject({
      kind: 'winner',
      armId: 'b',
      figures: {
        metric: 'click',
        minimumPerArm: 500,
        minProbability: 0.95,
        arms: [
          { id: 'a', entered: 600, successes: 30, rate: 0.05 },
          { id: 'b', entered: 600, successes: 60, rate: 0.1 },
        ],
      },
    });
  });

  it('waits while an arm is under `after`, or while no arm is probable enough', () => {
    expect(decideWinner(armRows(arms, [counts('a', 499, 30), counts('b', 600, 90)]), { metric: 'click', after: 500, minProbability: 0.95 }).kind).toBe(
      'not_yet',
    );
    expect(decideWinner(armRows(arms, [counts('a', 600, 30), counts('b', 600, 60)]), { metric: 'click', after: 500, minProbability: 0.99999 }).kind).toBe(
      'not_yet',
    );
  });
});

describe('treatment against holdout', () => {
  it('gives the lift of each metric with its interval and the probability the treatment is better', () => {
    const goal = holdoutComparison([counts('treatment', 900, 0, 90), counts('holdout', 100, 0, 5)]).find((entry) => entry.metric === 'goal');
    expect(goal?.lift?.difference).toBeCloseTo(0.05, 12);
    expect(goal?.lift?.low).toBeLessThan(0.05);
    expect(goal?.probabilityTreatmentBetter).toBeGreaterThan(0.9);
    expect(goal?.holdout).toMatchObject({ entered: 100, successes: 5 });
    expect(goal?.verdict).toMatchObject({ kind: 'no_clear_leader', leader: 'treatment' });
    // 60 held out: too early to call, whatever the rates.
    expect(holdoutComparison([counts('treatment', 900, 0, 90), counts('holdout', 60, 0, 0)])[2]?.verdict).toEqual({
      kind: 'too_few_entrants',
      minimumPerArm: 100,
      armsShort: ['holdout'],
    });
  });
});

describe('experimentsOf (from a loaded sequence)', () => {
  const base: Sequence = {
    id: 's',
    name: 'S',
    version: 1,
    description: '',
    status: 'active',
    priority: 0,
    entry: { trigger: { type: 'manual' }, conditions: [], reentry: 'never' },
    goals: [],
    sendWindow: null,
    steps: [{ id: 'end', kind: 'end', line: 3 }],
    file: 's.yaml',
    hash: 'h',
    holdout: 0,
  };
  it('reads split steps and the holdout share, and nothing from other steps', () => {
    const split: Step = {
      id: 't',
      kind: 'split',
      line: 2,
      split: {
        arms: [
          { id: 'a', weight: 70, next: 'end' },
          { id: 'b', weight: 30, next: 'end' },
        ],
        winner: { metric: 'goal', after: 500, minProbability: 0.9 },
      },
    };
    const sequence: Sequence = { ...base, steps: [split, ...base.steps], holdout: 0.1 };
    expect(experimentsOf(sequence)).toEqual({
      sequenceId: 's',
      sequenceName: 'S',
      holdout: 0.1,
      splits: [
        {
          sequenceId: 's',
          stepId: 't',
          arms: [
            { id: 'a', weight: 70, next: 'end' },
            { id: 'b', weight: 30, next: 'end' },
          ],
          winner: { metric: 'goal', after: 500, minProbability: 0.9 },
        },
      ],
    });
    expect(experimentsOf(base)).toEqual({ sequenceId: 's', sequenceName: 'S', holdout: 0, splits: [] });
  });
});
