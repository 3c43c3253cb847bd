import { findIntent, intentCountsAfter, type IntentRule } from '../../src/scoring/intent.js';
import { handoffCause } from '../../src/scoring/lifecycle.js';
import type { Grade, Score, ScoredEvent } from '../../src/scoring/score.js';
import { parseScoringConfig } from '../../src/scoring/scoring-config.js';
import type { LifecycleStage } from '../../src/platform/db/schema.js';

const DAY = 86_400_000;
const NOW = new Date('2026-11-27T12:00:00Z');
const daysAgo = (days: number) => new Date(NOW.getTime() - days * DAY);
const event = (id: string, type: string, days: number, properties: Record<string, unknown> = {}): ScoredEvent => ({
  id,
  type,
  occurredAt: daysAgo(days),
  properties,
});

const rules: IntentRule[] = [
  { id: 'demo-request', label: 'Demo request', event: 'form_submit', where: { form: 'demo' }, minGrade: 'D', withinMs: 30 * DAY },
  { id: 'pricing-quote', label: 'Pricing quote request', event: 'form_submit', where: { form: 'pricing-quote' }, minGrade: 'B', withinMs: 7 * DAY },
];

describe('intent rule matching', () => {
  it.each<[string, ScoredEvent[], Grade, Date | null, string | null]>([
    ['a demo request, whatever the grade', [event('e1', 'form_submit', 1, { form: 'demo' })], 'D', null, 'e1'],
    ['no other form', [event('e1', 'form_submit', 1, { form: 'newsletter' })], 'A', null, null],
    ['no other event type with the same properties', [event('e1', 'page_view', 1, { form: 'demo' })], 'A', null, null],
    ['extra properties do not matter', [event('e1', 'form_submit', 1, { form: 'demo', page: '/book' })], 'C', null, 'e1'],
    ['no machine event', [event('e1', 'form_submit', 1, { form: 'demo', machine: true })], 'A', null, null],
    ['no event dated in the future', [event('e1', 'form_submit', -1, { form: 'demo' })], 'A', null, null],
    ['a request at the edge of its window', [event('e1', 'form_submit', 30, { form: 'demo' })], 'A', null, 'e1'],
    ['no request older than its window', [event('e1', 'form_submit', 31, { form: 'demo' })], 'A', null, null],
    ["a quote request at the rule's minimum grade", [event('e1', 'form_submit', 2, { form: 'pricing-quote' })], 'B', null, 'e1'],
    ["no quote request below the rule's minimum grade", [event('e1', 'form_submit', 2, { form: 'pricing-quote' })], 'C', null, null],
    ['no quote request past its own shorter window', [event('e1', 'form_submit', 8, { form: 'pricing-quote' })], 'A', null, null],
    [
      'the newest of several raised hands',
      [
        event('e1', 'form_submit', 5, { form: 'demo' }),
        event('e2', 'form_submit', 2, { form: 'pricing-quote' }),
        event('e3', 'form_submit', 3, { form: 'demo' }),
      ],
      'A',
      null,
      'e2',
    ],
    ['only hands raised after `after` (a disqualified lead)', [event('e1', 'form_submit', 5, { form: 'demo' })], 'A', daysAgo(4), null],
    ['a hand raised after `after`', [event('e1', 'form_submit', 3, { form: 'demo' })], 'A', daysAgo(4), 'e1'],
  ])('finds %s', (_case, events, grade, after, expected) => {
    expect(findIntent(events, rules, grade, NOW, after)?.eventId ?? null).toBe(expected);
  });

  it('reports the rule, its label and when the hand was raised', () => {
    expect(findIntent([event('e1', 'form_submit', 1, { form: 'demo' })], rules, 'A', NOW, null)).toEqual({
      rule: 'demo-request',
      label: 'Demo request',
      eventId: 'e1',
      at: daysAgo(1),
    });
  });
});

describe('after when a raised hand counts', () => {
  it.each<[string, LifecycleStage, Date | null, string | null, Date | null]>([
    ['any time for a lead', 'lead', daysAgo(9), null, null],
    ['since disqualification for a disqualified lead', 'disqualified', daysAgo(9), null, daysAgo(9)],
    ['since unsubscribing for an unsubscribed lead', 'lead', daysAgo(9), daysAgo(4).toISOString(), daysAgo(4)],
    ['the later of the two when both apply', 'disqualified', daysAgo(9), daysAgo(4).toISOString(), daysAgo(4)],
    ['the later of the two, disqualified last', 'disqualified', daysAgo(2), daysAgo(4).toISOString(), daysAgo(2)],
  ])('%s', (_case, stage, changedAt, unsubscribedAt, expected) => {
    expect(intentCountsAfter(stage, changedAt, unsubscribedAt)).toEqual(expected);
  });

  it('so a demo request made before unsubscribing does not count, one made after does', () => {
    const after = intentCountsAfter('lead', null, daysAgo(4).toISOString());
    expect(findIntent([event('e1', 'form_submit', 5, { form: 'demo' })], rules, 'A', NOW, after)).toBeNull();
    expect(
      findIntent([event('e1', 'form_submit', 5, { form: 'demo' }), event('e2', 'form_submit', 3, { form: 'demo' })], rules, 'A', NOW, after)?.eventId,
    ).toBe('e2');
  });
});

describe('why a rescored lead goes to sales', () => {
  const lifecycle = { leadAt: 1, mql: { engagement: 50, minGrade: 'B' as const }, recycleSequence: null };
  const score = (engagement: number, grade: Grade): Score => ({ engagement, fit: 0, grade, total: engagement, breakdown: [] });
  const intent = { rule: 'demo-request', label: 'Demo request', eventId: 'e1', at: daysAgo(0) };

  it.each<[string, LifecycleStage, Score, boolean, boolean, string | null]>([
    ['a raised hand below the threshold', 'lead', score(40, 'A'), true, false, 'intent'],
    ['a raised hand from a subscriber with no points', 'subscriber', score(0, 'D'), true, false, 'intent'],
    ['a raised hand of an unsubscribed lead', 'lead', score(40, 'A'), true, true, 'intent'],
    ['a raised hand of a disqualified lead', 'disqualified', score(10, 'C'), true, false, 'intent'],
    ['a raised hand of a recycled lead', 'recycled', score(10, 'C'), true, false, 'intent'],
    ['a raised hand over the threshold: the hand is the reason', 'lead', score(90, 'A'), true, false, 'intent'],
    ['nothing for a raised hand of a lead sales already has', 'sql', score(40, 'A'), true, false, null],
    ['nothing for a raised hand of a customer', 'customer', score(40, 'A'), true, false, null],
    ['the threshold without a raised hand', 'lead', score(50, 'B'), false, false, 'threshold'],
    ['nothing below the threshold without a raised hand', 'lead', score(49, 'A'), false, false, null],
    ['nothing under the minimum grade', 'lead', score(80, 'C'), false, false, null],
    ['nothing by the threshold for an unsubscribed lead', 'lead', score(80, 'A'), false, true, null],
    ['nothing by the threshold for a disqualified lead', 'disqualified', score(80, 'A'), false, false, null],
  ])('%s', (_case, stage, given, raised, unsubscribed, expected) => {
    expect(handoffCause(stage, given, lifecycle, raised ? intent : null, unsubscribed)?.kind ?? null).toBe(expected);
  });
});

describe('intent rules in the scoring file', () => {
  it('reads them with their defaults: any grade, 30 days', () => {
    const result = parseScoringConfig(`intent:
  - { id: demo-request, label: Demo request, event: form_submit, where: { form: demo } }
  - { id: quote, event: quote_requested, min_grade: C, within: 7d }
`);
    expect(result.ok && result.config.intent).toEqual([
      { id: 'demo-request', label: 'Demo request', event: 'form_submit', where: { form: 'demo' }, minGrade: 'D', withinMs: 30 * DAY },
      { id: 'quote', label: 'quote', event: 'quote_requested', where: undefined, minGrade: 'C', withinMs: 7 * DAY },
    ]);
  });

  it('names the line, path and value of every bad intent rule', () => {
    const result = parseScoringConfig(`half_life: 30d
intent:
  - { id: demo, event: form_submit, where: { form: demo } }
  - { id: demo, event: form_submit }
  - { id: Quote!, event: form_submit, min_grade: E }
  - { id: late, event: form_submit, within: soon, points: 5 }
  - { id: nothing }
`);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((problem) => `${problem.line ?? '-'} ${problem.path}: ${problem.message}`)).toMatchInlineSnapshot(`
[
  "5 intent[2].id: "Quote!" must be lower-case letters, digits, - and _",
  "5 intent[2].min_grade: must be one of [A, B, C, D]",
  "6 intent[3].within: "soon" is not a duration such as 30d (s, m, h, d or w)",
  "6 intent[3].points: is not allowed",
  "- intent[4].event: is required",
  "4 intent[1]: contains a duplicate value",
]
`);
  });

  it('the shipped scoring.yaml hands demo, contact-sales and quote requests to sales', async () => {
    const { readFile } = await import('node:fs/promises');
    const result = parseScoringConfig(await readFile(new URL('../../scoring.yaml', import.meta.url), 'utf8'));
    expect(result.ok && result.config.intent.map((rule) => [rule.id, rule.event, rule.where, rule.minGrade])).toEqual([
      ['demo-request', 'form_submit', { form: 'demo' }, 'D'],
      ['contact-sales', 'form_submit', { form: 'contact-sales' }, 'D'],
      ['pricing-quote', 'form_submit', { form: 'pricing-quote' }, 'C'],
    ]);
  });
});
