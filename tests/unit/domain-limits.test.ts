import { allot, effectiveLimit, parseDomainLimits, SLOWED_DEFAULT } from '../../src/feedback/domain-limits.js';

const at = (iso: string) => new Date(iso);

describe('parseDomainLimits', () => {
  it('reads per-second and per-minute limits, domains lower-cased', () => {
    expect([...parseDomainLimits('gmail.com:20/s, Yahoo.com : 600/m')]).toEqual([
      ['gmail.com', { count: 20, windowMs: 1000 }],
      ['yahoo.com', { count: 600, windowMs: 60_000 }],
    ]);
  });
  it('ignores a zero limit', () => {
    expect(parseDomainLimits('gmail.com:0/s').size).toBe(0);
  });
});

describe('effectiveLimit', () => {
  const now = at('2026-12-08T02:00:00.000Z');
  it.each([
    ['no limit, not slowed', undefined, null, null],
    ['a limit, not slowed', { count: 20, windowMs: 1000 }, null, { count: 20, windowMs: 1000 }],
    ['a limit, slowed', { count: 20, windowMs: 1000 }, at('2026-12-08T02:05:00Z'), { count: 5, windowMs: 1000 }],
    ['a small limit, slowed, never below one', { count: 2, windowMs: 1000 }, at('2026-12-08T02:05:00Z'), { count: 1, windowMs: 1000 }],
    ['no limit, slowed', undefined, at('2026-12-08T02:05:00Z'), SLOWED_DEFAULT],
    ['slowing that has ended', { count: 20, windowMs: 1000 }, at('2026-12-08T01:59:59Z'), { count: 20, windowMs: 1000 }],
  ])('%s', (_name, configured, slowedUntil, expected) => {
    expect(effectiveLimit(configured, slowedUntil, now)).toEqual(expected);
  });
});

describe('allot', () => {
  const limit = { count: 3, windowMs: 1000 };
  it('lets the budget through and holds the rest until the next window', () => {
    expect(allot(limit, null, 5, at('2026-12-08T02:00:00.400Z'))).toEqual({
      allowed: 3,
      state: { windowStart: at('2026-12-08T02:00:00.000Z'), sent: 3 },
      retryAt: at('2026-12-08T02:00:01.000Z'),
    });
  });
  it('counts what this window already sent', () => {
    expect(allot(limit, { windowStart: at('2026-12-08T02:00:00.000Z'), sent: 2 }, 5, at('2026-12-08T02:00:00.900Z')).allowed).toBe(1);
  });
  it('starts afresh in a new window', () => {
    expect(allot(limit, { windowStart: at('2026-12-08T02:00:00.000Z'), sent: 3 }, 2, at('2026-12-08T02:00:01.001Z'))).toMatchObject({
      allowed: 2,
      state: { sent: 2 },
    });
  });
});
