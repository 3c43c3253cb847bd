import { backtest, formatBacktest, type BacktestLead } from '../../src/scoring/backtest.js';
import { parseScoringConfig } from '../../src/scoring/scoring-config.js';

const parsed = parseScoringConfig(`half_life: 10d
behaviour:
  - { id: pricing, event: page_view, where: { path: /pricing }, points: 30 }
  - { id: demo, event: form_submit, where: { form: demo }, points: 60 }
fit:
  - { id: exec, field: title, matches: "\\\\bvp\\\\b", points: 30 }
lifecycle:
  mql: { engagement: 50, min_grade: B }
`);
if (!parsed.ok) throw new Error('fixture does not parse');
const config = parsed.config;

const DAY = 86_400_000;
const now = new Date('2026-11-27T12:00:00Z');
const at = (daysAgo: number) => new Date(now.getTime() - daysAgo * DAY);
let nextId = 0;
const event = (type: string, properties: Record<string, unknown>, daysAgo: number) => ({ id: `e${nextId++}`, type, properties, occurredAt: at(daysAgo) });
const lead = (
  title: string | null,
  events: BacktestLead['events'],
  outcome: BacktestLead['outcome'],
  customer: BacktestLead['customer'] = null,
): BacktestLead => ({
  lead: { email: 'x@example.com', fields: { title }, traits: {} },
  events,
  outcome,
  customer,
});

describe('the scoring backtest', () => {
  const leads = [
    // Two pricing views a day apart: 30 + ~28 ≈ 58 at the second view.
    lead('VP Sales', [event('page_view', { path: '/pricing' }, 31), event('page_view', { path: '/pricing' }, 30)], 'accepted'),
    // The same views 60 days apart: decay keeps the peak at 30 + 30/64.
    // Sales first got it 20 days ago: at threshold 25 (crossed 90 days ago) that is 70 days late.
    lead('VP Sales', [event('page_view', { path: '/pricing' }, 90), event('page_view', { path: '/pricing' }, 30)], 'converted', { handedOffAt: at(20) }),
    // A demo request, but grade D (no exec title): never an MQL whatever the threshold.
    lead('Student', [event('form_submit', { form: 'demo' }, 2)], 'rejected'),
    // A demo request by an exec, machine events ignored.
    lead('VP Marketing', [event('form_submit', { form: 'demo' }, 1), event('page_view', { path: '/pricing', machine: true }, 1)], 'rejected'),
    lead('VP Ops', [], null),
  ];

  it.each([
    { threshold: 25, wouldBeMql: 3, accepted: 2, converted: 1, rejected: 1, missedAccepted: 0, customers: 1, customersMissed: 0, medianDaysEarlier: 70 },
    { threshold: 50, wouldBeMql: 2, accepted: 1, converted: 0, rejected: 1, missedAccepted: 1, customers: 0, customersMissed: 1, medianDaysEarlier: null },
    { threshold: 59, wouldBeMql: 1, accepted: 0, converted: 0, rejected: 1, missedAccepted: 2, customers: 0, customersMissed: 1, medianDaysEarlier: null },
    { threshold: 61, wouldBeMql: 0, accepted: 0, converted: 0, rejected: 0, missedAccepted: 2, customers: 0, customersMissed: 1, medianDaysEarlier: null },
  ])('at threshold $threshold: $wouldBeMql MQLs, $accepted accepted, $missedAccepted accepted leads missed', (expected) => {
    expect(backtest(leads, config, [expected.threshold], now)).toEqual({ leads: 5, results: [expected] });
  });

  it('prints a table with a row per threshold', () => {
    const text = formatBacktest(backtest(leads, config, [25, 50], now));
    expect(text.split('\n')).toEqual([
      '5 leads replayed',
      'threshold  would be MQL  accepted  converted  rejected  accepted missed  customers caught  days earlier',
      '       25             3         2          1         1                0               1/1            70',
      '       50             2         1          0         1                1               0/1             –',
    ]);
  });

  it('says how early each threshold would have handed off the leads that became customers', () => {
    // Crossing 50 at the demo request 12 days ago, 40 days ago and 3 days ago; sales got them 10, 45 and 1 days ago.
    const customers = [
      lead('VP Sales', [event('form_submit', { form: 'demo' }, 12)], 'converted', { handedOffAt: at(10) }),
      lead('VP Sales', [event('form_submit', { form: 'demo' }, 40)], 'converted', { handedOffAt: at(45) }),
      lead('VP Sales', [event('form_submit', { form: 'demo' }, 3)], 'converted', { handedOffAt: at(1) }),
      lead('VP Sales', [event('page_view', { path: '/pricing' }, 3)], 'converted', { handedOffAt: at(1) }),
    ];
    const [result] = backtest(customers, config, [50], now).results;
    // Earlier by 2, -5 and 2 days: the median is 2 days; the pricing-only customer is missed.
    expect(result).toMatchObject({ customers: 3, customersMissed: 1, medianDaysEarlier: 2 });
  });
});
