import { describeBlock, marketingBlock, type ConsentState } from '../../src/consent/consent-policy.js';

const now = new Date('2026-12-08T12:00:00Z');
const none: ConsentState = { consent: null, awaitingOptIn: false, pausedUntil: null, leftTopics: [] };
const consent = (status: 'granted' | 'denied' | 'withdrawn') => ({ status, source: 'form:newsletter', at: '2026-11-01T00:00:00Z' });

describe('marketingBlock', () => {
  it.each([
    ['no consent record and nothing else', none, null, null],
    ['granted consent', { ...none, consent: consent('granted') }, 'news', null],
    ['withdrawn consent', { ...none, consent: consent('withdrawn') }, null, 'consent withdrawn'],
    ['denied consent', { ...none, consent: consent('denied') }, null, 'consent denied'],
    ['withdrawn consent, even with a confirmed-looking state', { ...none, consent: consent('withdrawn'), awaitingOptIn: false }, 'news', 'consent withdrawn'],
    ['an unconfirmed double opt-in', { ...none, awaitingOptIn: true }, null, 'double opt-in not confirmed'],
    ['an unconfirmed double opt-in of a lead granted otherwise', { ...none, awaitingOptIn: true, consent: consent('granted') }, null, null],
    ['a pause that has not ended', { ...none, pausedUntil: new Date('2027-01-07T12:00:00Z') }, null, 'email paused until 2027-01-07T12:00:00.000Z'],
    ['a pause that ended a second ago', { ...none, pausedUntil: new Date('2026-12-08T11:59:59Z') }, null, null],
    ['a pause ending exactly now', { ...none, pausedUntil: now }, null, null],
    ['a left topic, for a sequence of that topic', { ...none, leftTopics: ['news'] }, 'news', 'left topic news'],
    ['a left topic, for a sequence of another topic', { ...none, leftTopics: ['news'] }, 'events', null],
    ['a left topic, for a sequence without a topic', { ...none, leftTopics: ['news'] }, null, null],
  ] as Array<[string, ConsentState, string | null, string | null]>)('%s → %s', (_what, state, topic, expected) => {
    const block = marketingBlock(state, topic, now);
    expect(block ? describeBlock(block) : null).toBe(expected);
  });
});
