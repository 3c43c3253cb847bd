import { nextAllowedSend } from '../../src/sends/frequency-cap.js';

const HOUR = 3_600_000;
const now = new Date('2026-11-27T12:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms);

describe('the per-lead frequency cap', () => {
  it('allows a send while fewer than count emails are in the window', () => {
    expect(nextAllowedSend({ count: 1, windowMs: 24 * HOUR }, [], now)).toBeNull();
    expect(nextAllowedSend({ count: 2, windowMs: 24 * HOUR }, [ago(HOUR)], now)).toBeNull();
    expect(nextAllowedSend({ count: 1, windowMs: 24 * HOUR }, [ago(25 * HOUR)], now)).toBeNull();
  });

  it('holds until the count-th most recent send leaves the window', () => {
    expect(nextAllowedSend({ count: 1, windowMs: 24 * HOUR }, [ago(2 * HOUR)], now)).toEqual(new Date(now.getTime() + 22 * HOUR));
    // Two allowed per day, three sent: the second most recent (5 h ago) frees the slot in 19 h.
    expect(nextAllowedSend({ count: 2, windowMs: 24 * HOUR }, [ago(10 * HOUR), ago(HOUR), ago(5 * HOUR)], now)).toEqual(new Date(now.getTime() + 19 * HOUR));
  });
});
