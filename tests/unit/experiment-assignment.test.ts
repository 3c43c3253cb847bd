import { createHash } from 'node:crypto';
import { armForLead, holdoutArmForLead } from '../../src/experiments/assignment.js';

/*
 * Split assignment over 10,000 leads (src/experiments/assignment.ts): every arm within 2
 * percentage points of its weight, and a chi-square goodness-of-fit test that the counts fit the
 * weights. Lead ids are fixed (UUID-shaped hashes of a counter), so the test gives the same
 * answer on every run: it cannot flake, and it fails if the hash or the weighting goes wrong.
 */

const LEADS = 10_000;
const leadIds = Array.from({ length: LEADS }, (_, index) => {
  const hex = createHash('sha256').update(`lead-${index}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
});

// Upper 0.1% points of the chi-square distribution (NIST/SEMATECH e-Handbook, table 1.3.6.7.4).
const CHI_SQUARE_999: Record<number, number> = { 1: 10.828, 2: 13.816, 3: 16.266 };

function chiSquare(observed: number[], expectedShares: number[]): number {
  return observed.reduce((sum, count, index) => {
    const expected = (expectedShares[index] ?? 0) * LEADS;
    return sum + (count - expected) ** 2 / expected;
  }, 0);
}

describe('split assignment over 10,000 leads', () => {
  it.each([[[50, 50]], [[70, 20, 10]], [[1, 1, 1, 1]], [[90, 10]]])(
    'lands within 2 points of weights %j and passes a chi-square goodness-of-fit test',
    (weights) => {
      const arms = weights.map((weight, index) => ({ id: `arm-${index}`, weight }));
      const counts = arms.map(() => 0);
      for (const leadId of leadIds) {
        const arm = armForLead(leadId, 'subject-lines', 'subject-test', arms);
        const index = arms.findIndex((candidate) => candidate.id === arm);
        counts[index] = (counts[index] ?? 0) + 1;
      }
      const total = weights.reduce((sum, weight) => sum + weight, 0);
      const shares = weights.map((weight) => weight / total);
      counts.forEach((count, index) => expect(Math.abs(count / LEADS - (shares[index] ?? 0))).toBeLessThan(0.02));
      expect(chiSquare(counts, shares)).toBeLessThan(CHI_SQUARE_999[weights.length - 1] ?? 0);
    },
  );

  it('gives a lead the same arm on every call, and a different step its own draw', () => {
    const arms = [
      { id: 'short', weight: 50 },
      { id: 'long', weight: 50 },
    ];
    const first = leadIds.slice(0, 200).map((leadId) => armForLead(leadId, 'seq', 'subject-test', arms));
    expect(leadIds.slice(0, 200).map((leadId) => armForLead(leadId, 'seq', 'subject-test', arms))).toEqual(first);
    const other = leadIds.slice(0, 200).map((leadId) => armForLead(leadId, 'seq', 'cta-test', arms));
    // Independent draws agree about half the time; identical ones always would.
    const agreeing = first.filter((arm, index) => arm === other[index]).length;
    expect(agreeing).toBeGreaterThan(60);
    expect(agreeing).toBeLessThan(140);
  });

  it('holds out 10% of entrants within 2 points', () => {
    const held = leadIds.filter((leadId) => holdoutArmForLead(leadId, 'subject-lines', 0.1) === 'holdout').length;
    expect(Math.abs(held / LEADS - 0.1)).toBeLessThan(0.02);
    expect(chiSquare([held, LEADS - held], [0.1, 0.9])).toBeLessThan(CHI_SQUARE_999[1] ?? 0);
  });
});
