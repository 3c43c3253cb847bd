import { armForLead, holdoutArmForLead } from '../../src/experiments/assignment.js';
import { arrival, decide, decideEntry, exitReason, PAUSED_RECHECK_MS, type LeadStanding, type StepFacts } from '../../src/enrollments/step-decider.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';
import type { Sequence } from '../../src/sequences/sequence.js';

/*
 * The decider is the engine's one set of step rules: every decision the runner, the email batch,
 * enrollment and `baton simulate` apply comes from here. Pure, so tested as tables, with time
 * zones and daylight-saving changes.
 */

const templates = { has: () => true, names: () => ['welcome'] };

function sequenceOf(text: string): Sequence {
  const parsed = parseSequence(text, 'test.yaml', templates);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  return parsed.sequence;
}

const SEQUENCE = sequenceOf(`id: decide
name: Decide
version: 1
entry: { trigger: { type: manual }, conditions: [{ not: { tag: customer } }], reentry: { after: 30d } }
goals: [{ event: form_submit, where: { form: demo } }]
send_window: { days: [mon, tue, wed, thu, fri], hours: "09:00-17:00", timezone: Europe/Paris }
steps:
  - id: hello
    email: welcome
  - id: pause
    wait: 2d
  - id: tuesday
    wait: { until: { days: [tue], time: "10:00" } }
  - id: clicked
    branch:
      - if: { clicked: hello }
        then: demo-wait
    else: tag-it
  - id: demo-wait
    goal: { event: form_submit, within: 3d }
  - id: tag-it
    update_lead: { set: { title: CTO }, add_tags: [warm], remove_tags: [cold] }
  - id: tell-crm
    webhook: { url: "https://crm.example.com/hook", secret: crm }
  - id: subject-test
    split:
      arms:
        - { id: short, weight: 50, next: to-sales }
        - { id: long, weight: 50, next: to-sales }
  - id: to-sales
    handoff: { reason: Read pricing three times }
  - id: done
    end: true
`);

const LEAD_ID = '7d3c1f7e-1a52-4c38-9a1f-3f4f8c1d2e10';

function lead(overrides: Partial<LeadStanding> = {}): LeadStanding {
  return {
    id: LEAD_ID,
    unsubscribed: false,
    stage: 'lead',
    timezone: 'America/New_York',
    tags: ['cold'],
    conditions: { fields: { country: 'US' }, traits: {}, tags: ['cold'], score: 10, engagement: {} },
    ...overrides,
  };
}

function facts(stepId: string, overrides: Partial<StepFacts> = {}): StepFacts {
  const now = overrides.now ?? new Date('2026-06-03T14:00:00Z');
  return {
    now,
    sequence: SEQUENCE,
    stepId,
    step: SEQUENCE.steps.find((step) => step.id === stepId),
    enteredAt: new Date(now.getTime() - 86_400_000),
    stepEnteredAt: now,
    lead: lead(),
    goalReached: null,
    stepGoalReached: false,
    heldOut: false,
    split: { stored: null, winner: null },
    ...overrides,
  };
}

describe('the exit rules, written once', () => {
  it.each([
    ['an erased lead', null, 'the lead was erased'],
    ['an unsubscribed lead', lead({ unsubscribed: true }), 'the lead unsubscribed'],
    ['a lead with sales (mql)', lead({ stage: 'mql' }), 'handed off to sales'],
    ['a disqualified lead', lead({ stage: 'disqualified' }), 'handed off to sales'],
    ['a recycled lead stays', lead({ stage: 'recycled' }), null],
    ['a lead never scored stays', lead({ stage: null }), null],
  ])('%s', (_name, standing, expected) => {
    expect(exitReason(standing)).toBe(expected);
  });

  it.each(['hello', 'pause', 'clicked', 'tag-it', 'subject-test', 'to-sales'])('applies them before step %s does anything', (stepId) => {
    expect(decide(facts(stepId, { lead: lead({ unsubscribed: true }) }))).toEqual({ kind: 'exit', reason: 'the lead unsubscribed' });
    expect(decide(facts(stepId, { goalReached: 'form_submit' }))).toEqual({ kind: 'convert', reason: 'goal form_submit' });
  });
});

describe('decide', () => {
  it.each<[string, StepFacts, unknown]>([
    ['a step removed by an edit parks', facts('gone', { step: undefined }), { kind: 'park', reason: 'step gone no longer exists in decide' }],
    [
      'a paused sequence looks again later, before reading the lead',
      facts('hello', { sequence: { ...SEQUENCE, status: 'paused' }, lead: null }),
      { kind: 'wait', until: new Date(new Date('2026-06-03T14:00:00Z').getTime() + PAUSED_RECHECK_MS), because: 'paused' },
    ],
    ['an email inside the window sends', facts('hello'), { kind: 'send', channel: 'email', step: expect.objectContaining({ id: 'hello' }), then: 'pause' }],
    ['a held-out lead walks past the email', facts('hello', { heldOut: true }), { kind: 'advance', to: 'pause', because: 'held_out' }],
    ['a branch takes else without a click', facts('clicked'), { kind: 'advance', to: 'tag-it', because: 'branch' }],
    [
      'a branch takes the clicked path',
      facts('clicked', {
        lead: lead({
          conditions: {
            ...lead().conditions,
            engagement: { hello: { sentAt: new Date('2026-06-01T10:00:00Z'), humanOpens: [], humanClicks: [new Date('2026-06-01T11:00:00Z')] } },
          },
        }),
      }),
      { kind: 'advance', to: 'demo-wait', because: 'branch' },
    ],
    ['a goal step converts when its event happened', facts('demo-wait', { stepGoalReached: true }), { kind: 'convert', reason: 'goal form_submit' }],
    ['a goal step waits until its deadline', facts('demo-wait'), { kind: 'wait', until: new Date('2026-06-06T14:00:00Z'), because: 'goal' }],
    [
      'a goal step moves on after its deadline',
      facts('demo-wait', { stepEnteredAt: new Date('2026-05-01T00:00:00Z') }),
      { kind: 'advance', to: 'tag-it', because: 'goal_timed_out' },
    ],
    [
      'update_lead sets fields by their lead keys and moves tags',
      facts('tag-it'),
      { kind: 'updateLead', patch: { title: 'CTO' }, tags: ['warm'], then: 'tell-crm' },
    ],
    [
      'a webhook step calls its URL with its secret',
      facts('tell-crm'),
      { kind: 'callWebhook', url: 'https://crm.example.com/hook', secret: 'crm', then: 'subject-test' },
    ],
    ['a handoff step hands over with its reason', facts('to-sales'), { kind: 'handOff', reason: 'Read pricing three times', then: 'done' }],
    ['an end step ends', facts('done'), { kind: 'end', reason: 'end step' }],
  ])('%s', (_name, input, expected) => {
    expect(decide(input)).toEqual(expected);
  });

  // The window is 09:00-17:00 on weekdays in the lead's zone (America/New_York), Paris for leads without one.
  it.each([
    ['New York lead at 08:00 EDT waits for 09:00 EDT', '2026-06-03T12:00:00Z', 'America/New_York', '2026-06-03T13:00:00.000Z'],
    ['New York lead at 08:00 EST (winter) waits for 09:00 EST', '2026-01-07T13:00:00Z', 'America/New_York', '2026-01-07T14:00:00.000Z'],
    ['Saturday before the US spring-forward waits for Monday 09:00 EDT', '2026-03-07T15:00:00Z', 'America/New_York', '2026-03-09T13:00:00.000Z'],
    ['Friday evening before the EU fall-back waits for Monday 09:00 CET', '2026-10-23T16:00:00Z', null, '2026-10-26T08:00:00.000Z'],
    ['Kolkata lead after hours waits for 09:00 IST', '2026-06-03T12:00:00Z', 'Asia/Kolkata', '2026-06-04T03:30:00.000Z'],
  ])('send window: %s', (_name, now, zone, until) => {
    const decision = decide(facts('hello', { now: new Date(now), lead: lead({ timezone: zone }) }));
    expect(decision).toEqual({ kind: 'wait', until: new Date(until), because: 'send_window' });
  });

  it.each([
    [
      '2d from entry: still waiting',
      '2026-06-01T10:00:00Z',
      '2026-06-02T10:00:00Z',
      { kind: 'wait', until: new Date('2026-06-03T10:00:00Z'), because: 'wait' },
    ],
    ['2d from entry: over', '2026-06-01T10:00:00Z', '2026-06-03T10:00:00Z', { kind: 'advance', to: 'tuesday', because: 'waited' }],
  ])('wait: %s', (_name, entered, now, expected) => {
    expect(decide(facts('pause', { stepEnteredAt: new Date(entered), now: new Date(now) }))).toEqual(expected);
  });

  it.each([
    ['Tuesday 10:00 New York, across the US spring-forward (EST → EDT)', '2026-03-06T15:00:00Z', 'America/New_York', '2026-03-10T14:00:00.000Z'],
    ['Tuesday 10:00 New York, across the US fall-back (EDT → EST)', '2026-10-30T15:00:00Z', 'America/New_York', '2026-11-03T15:00:00.000Z'],
    ['Tuesday 10:00 Paris, across the EU spring-forward', '2026-03-27T12:00:00Z', null, '2026-03-31T08:00:00.000Z'],
  ])('wait until: %s', (_name, entered, zone, until) => {
    expect(decide(facts('tuesday', { stepEnteredAt: new Date(entered), now: new Date(entered), lead: lead({ timezone: zone }) }))).toEqual({
      kind: 'wait',
      until: new Date(until),
      because: 'wait',
    });
  });
});

describe('split decisions', () => {
  const arms = [
    { id: 'short', weight: 50, next: 'to-sales' },
    { id: 'long', weight: 50, next: 'to-sales' },
  ];
  const hashed = armForLead(LEAD_ID, 'decide', 'subject-test', arms);
  const other = hashed === 'short' ? 'long' : 'short';

  it.each<[string, StepFacts['split'], { arm: string; source: string; record: boolean }]>([
    ['a first decision follows the hash and is recorded', { stored: null, winner: null }, { arm: hashed, source: 'hash', record: true }],
    ['a stored arm is kept, whatever the hash says', { stored: other, winner: null }, { arm: other, source: 'stored', record: false }],
    ['a stored arm is kept even when a winner was recorded since', { stored: other, winner: hashed }, { arm: other, source: 'stored', record: false }],
    ['a stored arm the edit removed gives way to the hash, recorded again', { stored: 'medium', winner: null }, { arm: hashed, source: 'hash', record: true }],
    ['an unassigned lead takes the winner', { stored: null, winner: other }, { arm: other, source: 'winner', record: true }],
    ['a winner that no longer exists is ignored', { stored: null, winner: 'gone' }, { arm: hashed, source: 'hash', record: true }],
    ['a simulation persona may force an arm', { stored: null, winner: hashed, forced: other }, { arm: other, source: 'forced', record: true }],
  ])('%s', (_name, split, expected) => {
    expect(decide(facts('subject-test', { split }))).toEqual({ kind: 'split', to: 'to-sales', ...expected });
  });
});

describe('decideEntry', () => {
  const now = new Date('2026-06-03T14:00:00Z');
  const entry = (overrides: Partial<Parameters<typeof decideEntry>[0]> = {}) =>
    decideEntry({ now, sequence: SEQUENCE, lead: lead(), previous: null, storedHoldout: null, ...overrides });

  it.each<[string, Partial<Parameters<typeof decideEntry>[0]>, unknown]>([
    ['a new lead enters at the first step', {}, { kind: 'enroll', firstStep: 'hello', holdout: null }],
    ['a paused sequence takes nobody', { sequence: { ...SEQUENCE, status: 'paused' } }, { kind: 'not_eligible', reason: 'the sequence is paused' }],
    ['an unknown lead', { lead: null }, { kind: 'unknown_lead' }],
    ['an unsubscribed lead', { lead: lead({ unsubscribed: true }) }, { kind: 'not_eligible', reason: 'the lead has unsubscribed' }],
    ['a lead with sales', { lead: lead({ stage: 'sql' }) }, { kind: 'not_eligible', reason: 'the lead is with sales (stage sql)' }],
    [
      'entry conditions',
      { lead: lead({ conditions: { ...lead().conditions, tags: ['customer'] } }) },
      { kind: 'not_eligible', reason: 'the entry conditions do not hold' },
    ],
    ['already active', { previous: { status: 'active', enteredAt: new Date('2026-06-01T00:00:00Z') } }, { kind: 'already_enrolled' }],
    [
      're-entry before the cooldown',
      { previous: { status: 'completed', enteredAt: new Date('2026-05-20T00:00:00Z') } },
      { kind: 'not_eligible', reason: 're-entry is allowed 30d after the last entry' },
    ],
    [
      're-entry after the cooldown',
      { previous: { status: 'completed', enteredAt: new Date('2026-04-20T00:00:00Z') } },
      { kind: 'enroll', firstStep: 'hello', holdout: null },
    ],
  ])('%s', (_name, overrides, expected) => {
    expect(entry(overrides)).toEqual(expected);
  });

  it('decides the holdout group once, from the hash, and keeps a stored decision', () => {
    const withHoldout = { ...SEQUENCE, holdout: 0.1 };
    expect(entry({ sequence: withHoldout })).toEqual({
      kind: 'enroll',
      firstStep: 'hello',
      holdout: { arm: holdoutArmForLead(LEAD_ID, 'decide', 0.1), record: true },
    });
    expect(entry({ sequence: withHoldout, storedHoldout: 'holdout' })).toEqual({
      kind: 'enroll',
      firstStep: 'hello',
      holdout: { arm: 'holdout', record: false },
    });
  });
});

describe('arrival', () => {
  const now = new Date('2026-03-07T15:00:00Z');
  it.each<[string, string, unknown]>([
    ['an email step goes to the email queue', 'hello', { kind: 'email_queue' }],
    ['a wait is an Agenda job at its end', 'pause', { kind: 'job', at: new Date('2026-03-09T15:00:00Z') }],
    ['a weekday wait ends at its local time, after the DST change', 'tuesday', { kind: 'job', at: new Date('2026-03-10T14:00:00Z') }],
    ['an end step closes at once', 'done', { kind: 'end', reason: 'end step' }],
    ['a split runs now', 'subject-test', { kind: 'job', at: now }],
    ['a handoff runs now', 'to-sales', { kind: 'job', at: now }],
  ])('%s', (_name, stepId, expected) => {
    const step = SEQUENCE.steps.find((candidate) => candidate.id === stepId);
    if (!step) throw new Error(stepId);
    expect(arrival(step, now, 'America/New_York')).toEqual(expected);
  });
});
