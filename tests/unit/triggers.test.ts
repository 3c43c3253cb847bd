import { containsAll, sequencesStartedBy, triggerInterests, triggerMatches } from '../../src/sequences/triggers.js';
import type { Sequence, Trigger } from '../../src/sequences/sequence.js';

const sequence = (id: string, trigger: Trigger, extra: Partial<Sequence> = {}): Sequence => ({
  id,
  name: id,
  version: 1,
  description: '',
  status: 'active',
  priority: 0,
  hash: id,
  entry: { trigger, conditions: [], reentry: 'never' },
  goals: [],
  sendWindow: null,
  holdout: 0,
  steps: [{ id: 'a', kind: 'end', line: 1 }],
  file: `${id}.yaml`,
  ...extra,
});

describe('trigger matching', () => {
  it('matches each trigger type only to its own kind of change', () => {
    expect(triggerMatches({ type: 'lead_created' }, { kind: 'lead_created' })).toBe(true);
    expect(triggerMatches({ type: 'lead_created' }, { kind: 'tag_added', tag: 'x' })).toBe(false);
    expect(triggerMatches({ type: 'tag_added', tag: 'vip' }, { kind: 'tag_added', tag: 'vip' })).toBe(true);
    expect(triggerMatches({ type: 'tag_added', tag: 'vip' }, { kind: 'tag_added', tag: 'VIP' })).toBe(false);
    expect(triggerMatches({ type: 'manual' }, { kind: 'lead_created' })).toBe(false);
  });

  it('filters events by type and by every property of where', () => {
    const trigger: Trigger = { type: 'event', event: 'form_submit', where: { form: 'demo', meta: { step: 2 } } };
    expect(triggerMatches(trigger, { kind: 'event', type: 'form_submit', properties: { form: 'demo', meta: { step: 2, extra: true }, page: '/x' } })).toBe(
      true,
    );
    expect(triggerMatches(trigger, { kind: 'event', type: 'form_submit', properties: { form: 'demo', meta: { step: '2' } } })).toBe(false);
    expect(triggerMatches(trigger, { kind: 'event', type: 'form_submit', properties: { form: 'demo' } })).toBe(false);
    expect(triggerMatches(trigger, { kind: 'event', type: 'page_view', properties: { form: 'demo', meta: { step: 2 } } })).toBe(false);
    expect(triggerMatches({ type: 'event', event: 'signup' }, { kind: 'event', type: 'signup', properties: {} })).toBe(true);
  });

  it('reads a where like jsonb containment', () => {
    expect(containsAll({ tags: ['a', 'b'] }, { tags: ['b'] })).toBe(true);
    expect(containsAll({ tags: ['a'] }, { tags: ['b'] })).toBe(false);
    expect(containsAll({ value: null }, { value: null })).toBe(true);
    expect(containsAll({}, { value: null })).toBe(false);
    expect(containsAll([1], { 0: 1 })).toBe(false);
  });
});

describe('which sequences a change starts', () => {
  it('returns active matching sequences, highest priority first', () => {
    const sequences = [
      sequence('low', { type: 'lead_created' }, { priority: 1 }),
      sequence('paused', { type: 'lead_created' }, { priority: 50, status: 'paused' }),
      sequence('high', { type: 'lead_created' }, { priority: 10 }),
      sequence('tagged', { type: 'tag_added', tag: 'vip' }, { priority: 99 }),
    ];
    expect(sequencesStartedBy({ kind: 'lead_created' }, sequences).map((found) => found.id)).toEqual(['high', 'low']);
  });

  it('asks the database to queue only what active sequences listen to, once each', () => {
    const interests = triggerInterests([
      sequence('a', { type: 'lead_created' }),
      sequence('b', { type: 'lead_created' }),
      sequence('c', { type: 'tag_added', tag: 'vip' }),
      sequence('d', { type: 'event', event: 'form_submit', where: { form: 'demo' } }),
      sequence('e', { type: 'event', event: 'webinar' }, { status: 'paused' }),
      sequence('f', { type: 'manual' }),
    ]);
    expect(interests).toEqual([
      { kind: 'lead_created', key: '' },
      { kind: 'tag_added', key: 'vip' },
      { kind: 'event', key: 'form_submit' },
    ]);
  });
});
