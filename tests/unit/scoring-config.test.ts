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
    expect(result.ok && result.config.lifecycle).toBeNull();
    expect(result.ok && result.config.labels).toEqual({
      pricing: 'pricing',
      unsubscribed: 'unsubscribed',
      exec: 'exec',
      territory: 'territory',
      size: 'size',
      webmail: 'webmail',
    });
    expect(result.ok && result.rules).toEqual(result.ok && result.config.rules);
    expect(result).toMatchObject({
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

  it('reads the lifecycle thresholds, rule labels and topics', () => {
    const result = parseScoringConfig(`behaviour:
  - { id: demo, label: Asked for a demo, event: form_submit, where: { form: demo }, points: 40 }
lifecycle:
  mql: { engagement: 50, min_grade: B }
  recycle_sequence: re-engagement
topics:
  - { id: pricing, label: Pricing, matches: /pricing, talking_point: Offer a pricing walkthrough. }
`);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config.labels).toEqual({ demo: 'Asked for a demo' });
    expect(result.config.lifecycle).toEqual({ leadAt: 1, mql: { engagement: 50, minGrade: 'B' }, recycleSequence: 're-engagement' });
    expect(result.config.topics).toEqual([{ id: 'pricing', label: 'Pricing', matches: '/pricing', talkingPoint: 'Offer a pricing walkthrough.' }]);
  });

  it('refuses a lifecycle without an MQL threshold or with an unknown grade', () => {
    const result = parseScoringConfig(`lifecycle:
  lead_at: 1
  mql: { engagement: 0, min_grade: E }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((problem) => `${problem.line ?? '-'} ${problem.path}: ${problem.message}`)).toEqual([
      '3 lifecycle.mql.engagement: must be greater than 0',
      '3 lifecycle.mql.min_grade: must be one of [A, B, C, D]',
    ]);
  });

  it('parses the example scoring.yaml (the fixture copy)', async () => {
    const { readFile } = await import('node:fs/promises');
    const result = parseScoringConfig(await readFile(new URL('../fixtures/content/scoring.yaml', import.meta.url), 'utf8'));
    expect(result.ok && result.config.lifecycle?.mql).toEqual({ engagement: 50, minGrade: 'B' });
    expect(result.ok && result.config.topics.map((topic) => topic.id)).toContain('pricing');
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
