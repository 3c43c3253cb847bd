import { localParts, nextInWindow, nextOccurrence, zonedTime } from '../../src/sequences/local-time.js';

const at = (iso: string) => new Date(iso);

describe('zonedTime', () => {
  it.each([
    ['New York in winter (UTC-5)', [2026, 1, 15, 9, 0, 'America/New_York'], '2026-01-15T14:00:00.000Z'],
    ['New York in summer (UTC-4)', [2026, 7, 15, 9, 0, 'America/New_York'], '2026-07-15T13:00:00.000Z'],
    ['Kolkata (UTC+5:30)', [2026, 3, 1, 10, 0, 'Asia/Kolkata'], '2026-03-01T04:30:00.000Z'],
    ['Lord Howe (30-minute DST)', [2026, 1, 10, 12, 0, 'Australia/Lord_Howe'], '2026-01-10T01:00:00.000Z'],
    ['a time in the spring-forward gap moves past it', [2026, 3, 8, 2, 30, 'America/New_York'], '2026-03-08T07:00:00.000Z'],
    [
      'the repeated hour at fall-back resolves to one instant',
      [2026, 11, 1, 1, 30, 'America/New_York'],
      expect.stringMatching(/^2026-11-01T0[56]:30:00\.000Z$/),
    ],
  ] as const)('%s', (_name, [year, month, day, hour, minute, zone], expected) => {
    expect(zonedTime(year, month, day, hour, minute, zone).toISOString()).toEqual(expected);
  });
});

describe('nextOccurrence', () => {
  it("finds the next Tuesday 10:00 in the lead's zone", () => {
    // Friday 2026-03-06 15:00 UTC → next Tuesday is 2026-03-10, after the US DST change on the 8th.
    expect(nextOccurrence(at('2026-03-06T15:00:00Z'), ['tue'], '10:00', 'America/New_York').toISOString()).toBe('2026-03-10T14:00:00.000Z');
  });

  it('returns today when the time is still ahead, and next week when it has passed', () => {
    expect(nextOccurrence(at('2026-03-10T13:00:00Z'), ['tue'], '10:00', 'America/New_York').toISOString()).toBe('2026-03-10T14:00:00.000Z');
    expect(nextOccurrence(at('2026-03-10T15:00:00Z'), ['tue'], '10:00', 'America/New_York').toISOString()).toBe('2026-03-17T14:00:00.000Z');
  });
});

describe('nextInWindow', () => {
  const weekdays = { days: ['mon', 'tue', 'wed', 'thu', 'fri'] as const, hours: '09:00-17:00' };

  it.each([
    ['inside the window: now', '2026-06-03T14:00:00Z', 'Europe/Paris', '2026-06-03T14:00:00.000Z'],
    ['before opening: today at 09:00 local', '2026-06-03T05:00:00Z', 'Europe/Paris', '2026-06-03T07:00:00.000Z'],
    ['after closing: tomorrow at 09:00 local', '2026-06-03T16:00:00Z', 'Europe/Paris', '2026-06-04T07:00:00.000Z'],
    ['Friday evening: Monday 09:00', '2026-06-05T18:00:00Z', 'Europe/Paris', '2026-06-08T07:00:00.000Z'],
    ['Saturday in Tokyo is still Friday afternoon in New York', '2026-06-05T20:00:00Z', 'America/New_York', '2026-06-05T20:00:00.000Z'],
    ['Friday evening in New York waits for Monday 09:00 there', '2026-06-06T01:00:00Z', 'America/New_York', '2026-06-08T13:00:00.000Z'],
    ['end is exclusive', '2026-06-03T15:00:00Z', 'Europe/Paris', '2026-06-04T07:00:00.000Z'],
  ])('%s', (_name, now, zone, expected) => {
    expect(nextInWindow(at(now), { days: [...weekdays.days], hours: weekdays.hours }, zone).toISOString()).toBe(expected);
  });
});

describe('localParts', () => {
  it('reads the weekday in the zone, not in UTC', () => {
    expect(localParts(at('2026-06-06T01:00:00Z'), 'America/New_York')).toMatchObject({ weekday: 'fri', hour: 21 });
    expect(localParts(at('2026-06-06T01:00:00Z'), 'Asia/Tokyo')).toMatchObject({ weekday: 'sat', hour: 10 });
  });
});
