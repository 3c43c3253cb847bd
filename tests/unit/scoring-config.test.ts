import { parseScoringConfig } from '../../src/scoring/scoring-config.js';

describe('the scoring file', () => {
  it('reads behaviour and fit rules, durations and grades', () => {
    const result = parseScoringConfig(`half_life: 30d
grades: { A: 40, B: 25, C: 10 }
behaviour:
  - { id: pricing, event: page_view, where: { path: /pricing }, points: 10, cap: 30, cooldown: 1d }
  - { id: unsubscribed, event: unsubscribed, points: -50 }
fit:
  - { id: exec, field: title, matches: "\\\\b(vp|chief)\\\\b", points: 15 }
  - { id: territory, field: country, in: [US, CA], points: 5 }
  - { id: size, trait: employees, gte: 100, points: 10 }
  - { id: webmail, email_domain_in: [gmail.com], points: -20 }
`);
    expect(result).toEqual({
      ok: true,
      rules: {
        halfLifeMs: 30 * 86_400_000,
        grades: { A: 40, B: 25, C: 10 },
        behaviour: [
          { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 10, cap: 30, cooldownMs: 86_400_000 },
          { id: 'unsubscribed', event: 'unsubscribed', points: -50, where: undefined, cap: undefined, cooldownMs: undefined },
        ],
        fit: [
          { id: 'exec', points: 15, test: { field: 'title', matches: '\\b(vp|chief)\\b' } },
          { id: 'territory', points: 5, test: { field: 'country', in: ['US', 'CA'] } },
          { id: 'size', points: 10, test: { trait: 'employees', gte: 100, lte: undefined } },
          { id: 'webmail', points: -20, test: { emailDomainIn: ['gmail.com'] } },
        ],
      },
    });
  });

  it('lists every problem with its line and path', () => {
    const result = parseScoringConfig(`half_life: a month
grades: { A: 10, B: 20, C: 5 }
behaviour:
  - { id: Pricing, event: page_view, points: 0 }
fit:
  - { id: broken, field: title, matches: "(", points: 5 }
  - { id: vague, points: 5 }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((problem) => `${problem.line ?? '-'} ${problem.path}: ${problem.message}`)).toEqual([
      '1 half_life: "a month" is not a duration such as 30d (s, m, h, d or w)',
      '2 grades: must give A more points than B, and B more than C',
      '4 behaviour[0].id: "Pricing" must be lower-case letters, digits, - and _',
      '4 behaviour[0].points: must not be 0: give it points, or remove the rule',
      '6 fit[0].matches: "(" is not a valid regular expression',
      '7 fit[1]: must test one of field (with matches or in), trait (with gte/lte) or email_domain_in',
    ]);
  });
});
