import { evaluateCondition, type LeadFacts } from '../../src/sequences/conditions.js';
import type { Condition } from '../../src/sequences/sequence.js';

const sent = new Date('2026-05-01T10:00:00Z');
const facts: LeadFacts = {
  fields: { first_name: 'Ada', country: 'GB', title: 'Head of Engineering', company: null },
  traits: { employees: 250, plan: 'pro', seats: '12' },
  tags: ['webinar', 'vip'],
  score: 42,
  engagement: {
    welcome: { sentAt: sent, humanOpens: [new Date('2026-05-01T11:00:00Z')], humanClicks: [new Date('2026-05-04T10:00:00Z')] },
    guide: { sentAt: sent, humanOpens: [], humanClicks: [] },
    unsent: { sentAt: null, humanOpens: [], humanClicks: [] },
  },
};

describe('evaluateCondition', () => {
  it.each<[string, Condition, boolean]>([
    ['field equals ignores case', { field: 'country', equals: 'gb' }, true],
    ['field in', { field: 'country', in: ['US', 'CA'] }, false],
    ['field matches', { field: 'title', matches: '^(vp|head|chief)' }, true],
    ['missing field exists: false', { field: 'company', exists: false }, true],
    ['missing field never equals', { field: 'company', equals: '' }, false],
    ['trait gte', { trait: 'employees', gte: 200 }, true],
    ['trait lte on a numeric string', { trait: 'seats', lte: 10 }, false],
    ['trait equals number against numeric string', { trait: 'seats', equals: 12 }, true],
    ['unknown trait', { trait: 'industry', exists: true }, false],
    ['tag', { tag: 'vip' }, true],
    ['score range', { score: { gte: 40, lte: 50 } }, true],
    ['opened, no window', { opened: 'welcome' }, true],
    ['clicked within 2d (clicked after 3d)', { clicked: 'welcome', within: '2d' }, false],
    ['clicked within 5d', { clicked: 'welcome', within: '5d' }, true],
    ['never opened', { opened: 'guide' }, false],
    ['not sent yet', { opened: 'unsent' }, false],
    ['unknown step', { clicked: 'nope' }, false],
    ['all', { all: [{ tag: 'vip' }, { field: 'country', equals: 'GB' }] }, true],
    ['any', { any: [{ tag: 'customer' }, { score: { gte: 100 } }] }, false],
    ['not', { not: { tag: 'customer' } }, true],
  ])('%s', (_name, condition, expected) => {
    expect(evaluateCondition(condition, facts)).toBe(expected);
  });

  it('treats an unknown score as failing every score condition', () => {
    expect(evaluateCondition({ score: { lte: 100 } }, { ...facts, score: null })).toBe(false);
  });
});
