import {
  applyEvent,
  decayFactor,
  gradeOf,
  inScoringOrder,
  scoreFromState,
  scoreLead,
  type EngagementState,
  type ScoredEvent,
  type ScoredLead,
  type ScoringRules,
} from '../../src/scoring/score.js';

const DAY = 86_400_000;
const now = new Date('2026-11-27T12:00:00Z');
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY);
let counter = 0;
const event = (type: string, days: number, properties: Record<string, unknown> = {}): ScoredEvent => ({
  id: `e${String(++counter).padStart(4, '0')}`,
  type,
  occurredAt: daysAgo(days),
  properties,
});

const lead: ScoredLead = { email: 'ada@globex.com', fields: { title: 'VP Sales', country: 'US' }, traits: { employees: 250 } };
const rules: ScoringRules = {
  halfLifeMs: 30 * DAY,
  grades: { A: 30, B: 20, C: 10 },
  behaviour: [
    { id: 'pricing', event: 'page_view', where: { path: '/pricing' }, points: 10, cap: 25 },
    { id: 'click', event: 'email_clicked', points: 5, cooldownMs: DAY },
    { id: 'demo', event: 'form_submit', where: { form: 'demo' }, points: 40 },
    { id: 'careers', event: 'page_view', where: { path: '/careers' }, points: -15 },
    { id: 'unsubscribed', event: 'unsubscribed', points: -50 },
  ],
  fit: [
    { id: 'exec', test: { field: 'title', matches: '\\b(vp|chief|head)\\b' }, points: 15 },
    { id: 'north-america', test: { field: 'country', in: ['us', 'ca'] }, points: 5 },
    { id: 'mid-market', test: { trait: 'employees', gte: 100, lte: 1000 }, points: 10 },
    { id: 'webmail', test: { emailDomainIn: ['gmail.com', 'yahoo.com'] }, points: -20 },
  ],
};
const engagementOf = (events: ScoredEvent[], subject = lead) => scoreLead(subject, events, rules, now).engagement;
const pointsOf = (events: ScoredEvent[], rule: string) => scoreLead(lead, events, rules, now).breakdown.find((entry) => entry.rule === rule)?.points ?? 0;

describe('decay', () => {
  it.each([
    [0, 1],
    [30, 0.5],
    [60, 0.25],
    [15, Math.SQRT1_2],
  ])('an event %d days old counts %f of its points', (days, factor) => {
    expect(decayFactor(days * DAY, 30 * DAY)).toBeCloseTo(factor, 10);
    expect(pointsOf([event('form_submit', days, { form: 'demo' })], 'demo')).toBeCloseTo(40 * factor, 2);
  });

  it('does not decay without a half-life, nor count future events', () => {
    expect(scoreLead(lead, [event('form_submit', 300, { form: 'demo' })], { ...rules, halfLifeMs: null }, now).engagement).toBe(40);
    expect(engagementOf([event('form_submit', -1, { form: 'demo' })])).toBe(0);
  });
});

describe('behaviour rules', () => {
  it.each<[string, ScoredEvent[], string, number]>([
    ['property filters must all match', [event('page_view', 0, { path: '/pricing', ref: 'ad' }), event('page_view', 0, { path: '/blog' })], 'pricing', 10],
    [
      'a cap bounds the running total',
      [event('page_view', 0.3, { path: '/pricing' }), event('page_view', 0.2, { path: '/pricing' }), event('page_view', 0.1, { path: '/pricing' })],
      'pricing',
      25 * decayFactor(0.1 * DAY, 30 * DAY),
    ],
    [
      'a cooldown ignores events too close to the last counted one',
      [event('email_clicked', 0.5), event('email_clicked', 0.4), event('email_clicked', 0.1)],
      'click',
      5 * decayFactor(0.5 * DAY, 30 * DAY),
    ],
    [
      'events a cooldown apart all count',
      [event('email_clicked', 0), event('email_clicked', 1), event('email_clicked', 2)],
      'click',
      5 + 5 * decayFactor(DAY, 30 * DAY) + 5 * decayFactor(2 * DAY, 30 * DAY),
    ],
    ['negative signals subtract: careers pages', [event('page_view', 0, { path: '/careers' })], 'careers', -15],
    ['negative signals subtract: unsubscribing', [event('unsubscribed', 0)], 'unsubscribed', -50],
  ])('%s', (_name, events, rule, expected) => {
    expect(pointsOf(events, rule)).toBeCloseTo(expected, 2);
  });

  it('never counts machine events', () => {
    const machine = [event('email_clicked', 0, { machine: true }), event('form_submit', 0, { form: 'demo', machine: true })];
    expect(engagementOf(machine)).toBe(0);
    expect(scoreLead(lead, machine, rules, now).breakdown.filter((entry) => entry.kind === 'behaviour')).toEqual([]);
  });

  it('says which events each rule counted, newest first', () => {
    const events = [event('email_clicked', 3), event('email_clicked', 1)];
    const entry = scoreLead(lead, events, rules, now).breakdown.find((found) => found.rule === 'click');
    expect(entry?.eventIds).toEqual([events[1]?.id, events[0]?.id]);
  });
});

describe('fit and grade', () => {
  it.each<[string, ScoredLead, number, string]>([
    ['an executive in the US at a mid-market company', lead, 30, 'A'],
    ['the same on a free webmail address', { ...lead, email: 'ada@GMAIL.com' }, 10, 'C'],
    ['no title, outside the territories', { email: 'x@corp.example', fields: { title: null, country: 'FR' }, traits: {} }, 0, 'D'],
    ['a size given as text still compares as a number', { email: 'x@corp.example', fields: {}, traits: { employees: '500' } }, 10, 'C'],
    ['a non-numeric size never matches', { email: 'x@corp.example', fields: {}, traits: { employees: 'lots' } }, 0, 'D'],
  ])('%s', (_name, subject, fit, grade) => {
    const score = scoreLead(subject, [], rules, now);
    expect(score.fit).toBe(fit);
    expect(score.grade).toBe(grade);
  });

  it('grades on the thresholds', () => {
    expect([gradeOf(30, rules.grades), gradeOf(29.99, rules.grades), gradeOf(20, rules.grades), gradeOf(10, rules.grades), gradeOf(-5, rules.grades)]).toEqual([
      'A',
      'B',
      'B',
      'C',
      'D',
    ]);
  });
});

describe('reproducibility', () => {
  it('an update event by event, kept between calls, equals a recompute from all events', () => {
    const events = [
      event('page_view', 40, { path: '/pricing' }),
      event('email_clicked', 35),
      event('email_clicked', 34.9),
      event('page_view', 20, { path: '/pricing' }),
      event('page_view', 19, { path: '/pricing' }),
      event('page_view', 18, { path: '/pricing' }),
      event('email_clicked', 10, { machine: true }),
      event('page_view', 5, { path: '/careers' }),
      event('form_submit', 2, { form: 'demo' }),
      event('email_clicked', 1),
    ];
    let state: EngagementState = {};
    for (const next of inScoringOrder(events, now)) state = JSON.parse(JSON.stringify(applyEvent(state, next, rules))) as EngagementState;
    expect(scoreFromState(lead, state, rules, now)).toEqual(scoreLead(lead, events, rules, now));
    // The order events are stored in does not matter.
    expect(scoreLead(lead, [...events].reverse(), rules, now)).toEqual(scoreLead(lead, events, rules, now));
  });

  it('totals engagement and fit', () => {
    const score = scoreLead(lead, [event('form_submit', 0, { form: 'demo' })], rules, now);
    expect(score).toMatchObject({ engagement: 40, fit: 30, total: 70, grade: 'A' });
  });
});
