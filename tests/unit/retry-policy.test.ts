import { isRetryable, retryDelayMs } from '../../src/feedback/retry-policy.js';

const MIN = 60_000;
const SCHEDULE = [15 * MIN, 60 * MIN, 240 * MIN];

describe('retryDelayMs', () => {
  it.each([
    ['soft_bounce', 1, 15 * MIN],
    ['soft_bounce', 2, 60 * MIN],
    ['soft_bounce', 3, 240 * MIN],
    ['soft_bounce', 4, null],
    ['retry', 1, MIN],
    ['retry', 2, 5 * MIN],
    ['throttle', 3, 15 * MIN],
    ['retry', 10, 24 * 60 * MIN],
    ['retry', 11, null],
    ['soft_bounce', 0, null],
    ['retry', -1, null],
    ['soft_bounce', 1.5, null],
  ] as const)('%s after attempt %d waits %p', (kind, attempt, expected) => {
    expect(retryDelayMs(kind, attempt, SCHEDULE)).toBe(expected);
  });

  it('gives up at once with an empty soft-bounce schedule', () => {
    expect(retryDelayMs('soft_bounce', 1, [])).toBeNull();
  });

  it.each([
    ['retry', true],
    ['throttle', true],
    ['soft_bounce', true],
    ['hard_bounce', false],
    ['sent', false],
    ['unknown', false],
    ['sender_blocked', false],
    ['failed', false],
  ] as const)('%s is retryable: %s', (kind, expected) => {
    expect(isRetryable(kind)).toBe(expected);
  });
});
