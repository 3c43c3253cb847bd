import { assessRates } from '../../src/feedback/rates.js';

describe('assessRates', () => {
  const counts = (handed: number, sent: number, hardBounces: number, complaints: number) => ({ handed, sent, hardBounces, softBounces: 0, complaints });

  it.each([
    ['no mail at all', counts(0, 0, 0, 0), null, null, []],
    ['a clean list', counts(10_000, 9_990, 10, 5), 0.001, 5 / 9990, []],
    ['complaints just under 0.1%', counts(1000, 1000, 0, 1), 0, 0.001, []],
    ["complaints over Gmail's 0.1% advice", counts(1000, 1000, 0, 2), 0, 0.002, ['complaints_over_target']],
    ['complaints over the 0.3% limit', counts(1000, 1000, 0, 4), 0, 0.004, ['complaints_over_limit']],
    ['hard bounces over 2%', counts(100, 97, 3, 0), 0.03, 0, ['bounces_over_limit']],
    ['both over', counts(100, 90, 10, 1), 0.1, 1 / 90, ['complaints_over_limit', 'bounces_over_limit']],
  ])('%s', (_name, given, bounceRate, complaintRate, warnings) => {
    const assessed = assessRates(given);
    expect(assessed.bounceRate).toBe(bounceRate);
    expect(assessed.complaintRate).toBe(complaintRate);
    expect(assessed.warnings.map((warning) => warning.kind)).toEqual(warnings);
  });

  it('names the threshold in the warning', () => {
    expect(assessRates(counts(1000, 1000, 0, 4)).warnings[0]?.message).toBe('complaint rate 0.40% is above the 0.3% Gmail and Yahoo allow bulk senders');
  });
});
