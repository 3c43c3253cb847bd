import { parseSequence, loadSequences } from '../../src/sequences/sequence-loader.js';
import { parseDuration } from '../../src/sequences/duration.js';
import { loadTemplates } from '../../src/templates/template-store.js';
import type { TemplateCatalogue } from '../../src/sequences/sequence-checks.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

const templates: TemplateCatalogue = { has: (name) => ['welcome', 'follow-up'].includes(name), names: () => ['follow-up', 'welcome'] };

const HEAD = `id: test
name: Test
version: 1
entry:
  trigger: { type: manual }
`;

function problems(text: string): string[] {
  const result = parseSequence(text, 'test.yaml', templates);
  if (result.ok) return [];
  return result.problems.map((problem) => `${problem.file}:${problem.line ?? '-'} ${problem.path}: ${problem.message}`);
}

describe('parseSequence', () => {
  it('reads a valid sequence with step lines, defaults and fall-through', () => {
    const result = parseSequence(`${HEAD}steps:
  - id: hello
    email: welcome
  - id: pause
    wait: 2d
  - id: again
    email: { template: follow-up, subject: "Still there?" }
`, 'test.yaml', templates);
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.sequence).toMatchObject({ id: 'test', status: 'active', priority: 0, goals: [], sendWindow: null, entry: { reentry: 'never', conditions: [] } });
    expect(result.sequence.steps).toEqual([
      { kind: 'email', email: { template: 'welcome' }, id: 'hello', next: undefined, line: 7 },
      { kind: 'wait', wait: '2d', id: 'pause', next: undefined, line: 9 },
      { kind: 'email', email: { template: 'follow-up', subject: 'Still there?' }, id: 'again', next: undefined, line: 11 },
    ]);
  });

  it('names file, line, path, the bad value and what is accepted, for every problem at once', () => {
    expect(problems(`id: Bad Id
name: Test
version: 1
entry:
  trigger: { type: webinar }
steps:
  - id: pause
    wait: 2 days
  - id: both
    wait: 1d
    email: welcome
  - id: nothing
`)).toEqual([
      'test.yaml:1 id: "Bad Id" must be lower-case letters, digits, - and _ (at most 64), starting with a letter or digit',
      'test.yaml:5 entry.trigger.type: "webinar" is not a trigger; use [manual, lead_created, tag_added, event]',
      'test.yaml:8 steps[0].wait: "2 days" is not a duration: use a whole number from 1 and a unit (s, m, h, d or w), e.g. 2d',
      'test.yaml:9 steps[1]: must have exactly one action: wait, email, branch, goal, update_lead, webhook, split, handoff or end',
      'test.yaml:12 steps[2]: must have exactly one action: wait, email, branch, goal, update_lead, webhook, split, handoff or end',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(problems(`${HEAD}steps:\n  - id: a\n    id: b\n    end: true\n`)).toEqual(['test.yaml:8 : YAML: this key appears twice in the same block; keep one']);
  });

  it('checks references, templates and engagement conditions', () => {
    expect(problems(`${HEAD}steps:
  - id: hello
    email: missing-template
  - id: decide
    branch:
      - if: { clicked: pause, within: 2d }
        then: nowhere
    else: hello
  - id: pause
    wait: 1d
    next: ghost
`)).toEqual([
      'test.yaml:8 steps[0].email: template "missing-template" does not exist (templates: follow-up, welcome)',
      'test.yaml:12 steps[1].branch[0].then: "nowhere" is not a step of this sequence (steps: hello, decide, pause)',
      'test.yaml:11 steps[1].branch[0].if: "pause" is not an email step of this sequence (email steps: hello)',
      'test.yaml:16 steps[2].next: "ghost" is not a step of this sequence (steps: hello, decide, pause)',
    ]);
  });

  it('compiles an email step\'s subject override when the file loads', () => {
    expect(problems(`${HEAD}steps:\n  - id: a\n    email: { template: welcome, subject: "{{#if x}}open" }\n`)).toEqual([
      expect.stringMatching(/^test\.yaml:8 steps\[0\]\.email\.subject: the subject does not compile: Parse error/),
    ]);
  });

  it('reports unreachable steps and loops that never wait', () => {
    expect(problems(`${HEAD}steps:
  - id: hello
    email: welcome
  - id: again
    email: follow-up
    next: hello
  - id: orphan
    end: true
`)).toEqual([
      'test.yaml:12 steps[2]: step "orphan" can never be reached from the first step',
      'test.yaml:7 steps[0]: steps hello → again → hello loop without a wait; add a wait step to the loop',
    ]);
  });

  it('refuses a branch on an email that never comes before it, and a send window that ends before it starts', () => {
    expect(problems(`${HEAD}send_window: { days: [mon], hours: "18:00-08:00", timezone: UTC }
steps:
  - id: early
    branch:
      - if: { opened: later }
        then: later
    else: later
  - id: later
    email: welcome
`)).toEqual([
      'test.yaml:10 steps[0].branch[0].if: email step "later" never comes before this branch, so the condition could never hold',
      'test.yaml:6 send_window.hours: "18:00-08:00" ends before it starts; a window is HH:MM-HH:MM within one day (windows across midnight are not supported)',
    ]);
  });

  it('does not count a zero or endless wait', () => {
    expect(problems(`${HEAD}steps:\n  - id: a\n    wait: 0s\n  - id: b\n    wait: 999999w\n`)).toEqual([
      'test.yaml:8 steps[0].wait: "0s" is not a duration: use a whole number from 1 and a unit (s, m, h, d or w), e.g. 2d',
      'test.yaml:10 steps[1].wait: "999999w" is longer than two years',
    ]);
  });

  it('accepts a loop that waits', () => {
    expect(problems(`${HEAD}steps:
  - id: hello
    email: welcome
  - id: pause
    wait: 7d
    next: hello
`)).toEqual([]);
  });

  it('validates conditions: one kind each, comparisons only with a field or trait', () => {
    expect(problems(`${HEAD}  conditions:
    - { field: country, in: [US], tag: x }
    - { field: planet, equals: mars }
    - { trait: employees }
    - { tag: vip, gte: 3 }
    - { clicked: hello }
steps:
  - id: hello
    email: welcome
`)).toEqual([
      'test.yaml:7 entry.conditions[0]: must hold exactly one condition: all, any, not, field, trait, tag, score, opened or clicked',
      'test.yaml:8 entry.conditions[1].field: "planet" is not a lead field; use [email, first_name, last_name, company, title, phone, timezone, country, source]',
      'test.yaml:9 entry.conditions[2]: compares a field or trait with exactly one of equals, in, matches, gte, lte or exists',
      'test.yaml:10 entry.conditions[3]: uses a comparison (equals, in, matches, gte, lte, exists) without a field or trait',
      // Reported in the same run although the structure is wrong: a rule of its own.
      'test.yaml:11 entry.conditions[4]: entry conditions cannot test opens or clicks: the lead has no emails from this sequence yet',
    ]);
  });
});

describe('split, holdout and handoff in sequence files', () => {
  it('reads a split with its arms and winner rule, a holdout and a handoff step', () => {
    const result = parseSequence(`${HEAD}holdout: 12.5%
steps:
  - id: subject-test
    split:
      arms:
        - { id: short, weight: 1, next: email-short }
        - { id: long, weight: 3, next: email-long }
      winner: { metric: click, after: 500 }
  - id: email-short
    email: welcome
    next: to-sales
  - id: email-long
    email: follow-up
  - id: to-sales
    handoff: { reason: "Asked about pricing" }
  - id: quiet
    handoff: true
`, 'test.yaml', templates);
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.sequence.holdout).toBe(0.125);
    expect(result.sequence.steps[0]).toMatchObject({ kind: 'split', split: { arms: [{ id: 'short', weight: 1, next: 'email-short' }, { id: 'long', weight: 3, next: 'email-long' }], winner: { metric: 'click', after: 500, minProbability: 0.95 } } });
    expect(result.sequence.steps[3]).toMatchObject({ kind: 'handoff', handoff: { reason: 'Asked about pricing' } });
    expect(result.sequence.steps[4]).toMatchObject({ kind: 'handoff', handoff: {} });
  });

  it('names file, line and path of a bad split, weight, winner, holdout or handoff', () => {
    expect(problems(`${HEAD}holdout: 60%
steps:
  - id: subject-test
    next: a
    split:
      arms:
        - { id: short, weight: 50, next: a }
        - { id: short, weight: 50, next: nowhere }
  - id: weights
    split:
      arms:
        - { id: x, weight: 0, next: a }
        - { id: y, weight: -2, next: a }
      winner: { metric: revenue, after: 10 }
  - id: one-arm
    split:
      arms:
        - { id: only, weight: 1, next: a }
  - id: a
    handoff: { reason: "" }
`)).toEqual([
      'test.yaml:6 holdout: "60%" is more than 50%: a holdout is the smaller group',
      'test.yaml:17 steps[1].split.arms[0].weight: must be a positive number (weights are relative: 50 and 50, or 1 and 3)',
      'test.yaml:18 steps[1].split.arms[1].weight: must be a positive number (weights are relative: 50 and 50, or 1 and 3)',
      'test.yaml:19 steps[1].split.winner.metric: "revenue" is not a metric; use [open, click, goal, mql, handoff]',
      'test.yaml:23 steps[2].split.arms: needs at least 2 arms',
      'test.yaml:25 steps[3].handoff: must be true, or a map with reason: (what the rep reads in the briefing)',
      // The references and rules of the steps that are well-formed, in the same run.
      'test.yaml:9 steps[0].next: a split goes where its arms say; give each arm a next instead',
      'test.yaml:13 steps[0].split.arms[1].id: arm id "short" is already used by arms[0]',
      'test.yaml:13 steps[0].split.arms[1].next: "nowhere" is not a step of this sequence (steps: subject-test, weights, one-arm, a)',
    ]);
    expect(problems(`${HEAD}holdout: 10%
steps:
  - id: subject-test
    next: a
    split:
      arms:
        - { id: short, weight: 50, next: a }
        - { id: short, weight: 50, next: nowhere }
  - id: a
    handoff: true
`)).toEqual([
      'test.yaml:9 steps[0].next: a split goes where its arms say; give each arm a next instead',
      'test.yaml:13 steps[0].split.arms[1].id: arm id "short" is already used by arms[0]',
      'test.yaml:13 steps[0].split.arms[1].next: "nowhere" is not a step of this sequence (steps: subject-test, a)',
    ]);
  });

  it('counts the steps each arm leads to as reachable', () => {
    expect(problems(`${HEAD}steps:
  - id: pick
    split:
      arms:
        - { id: one, weight: 1, next: second }
        - { id: two, weight: 1, next: third }
  - id: first-unreachable
    email: welcome
  - id: second
    end: true
  - id: third
    end: true
`)).toEqual(['test.yaml:12 steps[1]: step "first-unreachable" can never be reached from the first step']);
  });
});

describe('parseDuration', () => {
  it.each([['30s', 30_000], ['15m', 900_000], ['2h', 7_200_000], ['3d', 259_200_000], ['1w', 604_800_000], ['2 days', null], ['1.5d', null], ['', null]])('%j → %j', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('example sequences (the fixture copy)', () => {
  it('load against the example templates', async () => {
    const loaded = await loadTemplates(FIXTURE_CONTENT.templates);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const result = await loadSequences(FIXTURE_CONTENT.sequences, loaded.store);
    if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
    expect(result.sequences.map((sequence) => sequence.id)).toEqual(['b2b-nurture', 're-engagement']);
    const nurture = result.sequences[0];
    expect(nurture?.steps.filter((step) => step.kind === 'email')).toHaveLength(7);
    expect(nurture?.steps.some((step) => step.kind === 'branch')).toBe(true);
  });
});
