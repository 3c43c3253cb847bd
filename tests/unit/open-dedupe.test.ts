import { createRecentKeys } from '../../src/tracking/open-dedupe.js';

describe('recent keys (open dedupe)', () => {
  it('lets a key through once per window, and again once the window has passed', () => {
    const recent = createRecentKeys({ windowMs: 60_000, maxKeys: 100 });
    const admitted = [0, 1, 500, 59_999, 60_000, 60_001, 119_999, 120_000].map((at) => recent.admit('send-1:human', at));
    expect(admitted).toEqual([true, false, false, false, true, false, false, true]);
  });

  it('keeps keys apart', () => {
    const recent = createRecentKeys({ windowMs: 60_000, maxKeys: 100 });
    expect(['send-1:human', 'send-1:machine', 'send-2:human', 'send-1:human'].map((key) => recent.admit(key, 10))).toEqual([true, true, true, false]);
  });

  it('forgets expired keys as time goes on, so memory follows the traffic of one window', () => {
    const recent = createRecentKeys({ windowMs: 1000, maxKeys: 1_000_000 });
    for (let i = 0; i < 500; i += 1) recent.admit(`send-${i}`, i);
    expect(recent.size()).toBe(500);
    recent.admit('late', 1_600);
    // Admitted at 0…499; at 1600 only those within the last 1000 ms (600…) would remain: none.
    expect(recent.size()).toBe(1);
  });

  it('stays within maxKeys, forgetting the oldest first', () => {
    const recent = createRecentKeys({ windowMs: 60_000, maxKeys: 3 });
    for (const key of ['a', 'b', 'c', 'd']) recent.admit(key, 5);
    expect(recent.size()).toBe(3);
    expect(recent.admit('a', 6)).toBe(true); // forgotten, so let through again
    expect(recent.admit('d', 6)).toBe(false);
  });

  it('lets a key through when the clock goes backwards rather than muting it', () => {
    const recent = createRecentKeys({ windowMs: 60_000, maxKeys: 10 });
    expect(recent.admit('k', 100_000)).toBe(true);
    expect(recent.admit('k', 50_000)).toBe(true);
  });
});
