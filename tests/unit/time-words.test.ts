import { absoluteTime, localTimeIn, plural, relativeTime } from '../../src/dashboard/time-words.js';

describe('times in words for the dashboard', () => {
  const now = new Date('2026-11-30T09:00:00Z');

  it.each([
    [0, 'just now'],
    [30_000, 'just now'],
    [60_000, '1 minute ago'],
    [5 * 60_000, '5 minutes ago'],
    [60 * 60_000, '1 hour ago'],
    [2 * 3_600_000, '2 hours ago'],
    [26 * 3_600_000, '1 day ago'],
    [3 * 86_400_000, '3 days ago'],
    [65 * 86_400_000, '2 months ago'],
    [800 * 86_400_000, '2 years ago'],
    [-3 * 3_600_000, 'in 3 hours'],
  ])('says %i ms before now as "%s"', (ago, words) => {
    expect(relativeTime(new Date(now.getTime() - ago), now)).toBe(words);
  });

  it.each([
    [0, '0 emails'],
    [1, '1 email'],
    [2, '2 emails'],
  ])('counts %i as "%s"', (count, words) => {
    expect(plural(count, 'email')).toBe(words);
  });

  it.each([
    ['UTC', '2026-11-30T09:00:00Z', '30 Nov 2026, 09:00 UTC'],
    ['Europe/Paris', '2026-11-30T09:00:00Z', '30 Nov 2026, 10:00 CET'],
    // Summer time: the same zone, another offset.
    ['Europe/Paris', '2026-07-01T09:00:00Z', '1 Jul 2026, 11:00 CEST'],
    ['America/Los_Angeles', '2026-11-30T09:00:00Z', '30 Nov 2026, 01:00 GMT-8'],
    // Across midnight: the day is the zone's, not UTC's.
    ['Asia/Tokyo', '2026-11-30T20:30:00Z', '1 Dec 2026, 05:30 GMT+9'],
  ])('shows an instant in %s', (zone, at, shown) => {
    expect(absoluteTime(new Date(at), zone)).toBe(shown);
  });

  it("gives the wall-clock time in the lead's zone", () => {
    expect(localTimeIn('Europe/Paris', now)).toBe('Mon 10:00 (Europe/Paris)');
  });
});
