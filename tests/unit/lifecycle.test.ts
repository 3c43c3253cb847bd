import type { LifecycleStage } from '../../src/platform/db/schema.js';
import { isWithSales, stageAfterScore } from '../../src/scoring/lifecycle.js';
import type { Grade, Score } from '../../src/scoring/score.js';

const lifecycle = { leadAt: 5, mql: { engagement: 50, minGrade: 'B' as Grade }, recycleSequence: null };
const score = (engagement: number, grade: Grade): Score => ({ engagement, grade, fit: 0, total: engagement, breakdown: [] });

describe('lifecycle stages', () => {
  it.each<[LifecycleStage, number, Grade, LifecycleStage]>([
    ['subscriber', 0, 'D', 'subscriber'],
    ['subscriber', 4, 'D', 'subscriber'],
    ['subscriber', 5, 'D', 'lead'],
    ['subscriber', 60, 'A', 'mql'],
    ['subscriber', 60, 'C', 'lead'],
    ['lead', 50, 'B', 'mql'],
    ['lead', 49.9, 'A', 'lead'],
    ['recycled', 20, 'A', 'recycled'],
    ['recycled', 55, 'A', 'mql'],
    ['mql', 0, 'D', 'mql'],
    ['sql', 100, 'A', 'sql'],
    ['customer', 100, 'A', 'customer'],
    ['disqualified', 100, 'A', 'disqualified'],
  ])('%s with engagement %d and grade %s → %s', (from, engagement, grade, to) => {
    expect(stageAfterScore(from, score(engagement, grade), lifecycle)).toBe(to);
  });

  it('never goes past lead without a lifecycle section', () => {
    expect(stageAfterScore('subscriber', score(500, 'A'), null)).toBe('lead');
  });

  it.each<[LifecycleStage, boolean]>([
    ['subscriber', false],
    ['lead', false],
    ['recycled', false],
    ['mql', true],
    ['sql', true],
    ['customer', true],
    ['disqualified', true],
  ])('a %s lead is with sales: %s', (stage, withSales) => expect(isWithSales(stage)).toBe(withSales));
});
