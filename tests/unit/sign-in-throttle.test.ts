import { createThrottle } from '../../src/dashboard/sign-in-throttle.js';
import { decodeLeadCursor, encodeLeadCursor } from '../../src/dashboard/list-cursor.js';

describe('the sign-in throttle', () => {
  const at = (ms: number) => new Date(Date.UTC(2026, 10, 30) + ms);

  it('lets a key try `limit` times per window, then says how long to wait, then lets it try again', () => {
    const throttle = createThrottle({ limit: 3, windowMs: 60_000 });
    for (let attempt = 0; attempt < 3; attempt++) {
      expect(throttle.retryAfterMs('10.0.0.1', at(attempt))).toBeNull();
      throttle.count('10.0.0.1', at(attempt));
    }
    expect(throttle.retryAfterMs('10.0.0.1', at(10_000))).toBe(50_000);
    // Another key has its own allowance.
    expect(throttle.retryAfterMs('10.0.0.2', at(10_000))).toBeNull();
    expect(throttle.retryAfterMs('10.0.0.1', at(60_000))).toBeNull();
  });

  it('stays bounded in memory: past maxKeys, finished windows go first, then the oldest', () => {
    const throttle = createThrottle({ limit: 1, windowMs: 60_000, maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) throttle.count(key, at(0));
    throttle.count('d', at(1000));
    // 'a' was the oldest: forgotten; the newer ones are still throttled.
    expect(throttle.retryAfterMs('a', at(1000))).toBeNull();
    expect(throttle.retryAfterMs('c', at(1000))).not.toBeNull();
    expect(throttle.retryAfterMs('d', at(1000))).not.toBeNull();
  });
});

describe('leads list cursors', () => {
  const id = '0b9c4bde-2f7e-4d55-9a43-6c8e0c2f1a10';

  it.each([
    [{ sort: 'created' as const, at: new Date('2026-11-30T09:00:00.123Z'), id }],
    [{ sort: 'score' as const, score: 73.5, id }],
    [{ sort: 'score' as const, score: -12, id }],
  ])('round-trips %o', (position) => {
    expect(decodeLeadCursor(position.sort, encodeLeadCursor(position))).toEqual(position);
  });

  it.each([
    ['score', encodeLeadCursor({ sort: 'created', at: new Date('2026-11-30T09:00:00Z'), id })],
    ['created', encodeLeadCursor({ sort: 'score', score: 1, id })],
    ['score', Buffer.from(JSON.stringify(['score', 'NaN', id])).toString('base64url')],
    ['score', Buffer.from(JSON.stringify(['score', 1, 'not-a-uuid'])).toString('base64url')],
    ['score', '%%%'],
    ['created', 'A'.repeat(300)],
  ] as const)('refuses a %s cursor it did not write: %s', (sort, cursor) => {
    expect(decodeLeadCursor(sort, cursor)).toBeNull();
  });
});
