import { classifyWebhookResponse, parseRetryAfter, webhookRetryDelayMs } from '../../src/webhooks/webhook-outcome.js';

const now = Date.parse('2025-03-01T12:00:00Z');

describe('classifying a receiver response', () => {
  it.each([
    [200, 'delivered'],
    [201, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [410, 'gone'],
    [301, 'retry'],
    [302, 'retry'],
    [307, 'retry'],
    [408, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [400, 'failed'],
    [401, 'failed'],
    [404, 'failed'],
    [413, 'failed'],
    [422, 'failed'],
  ])('HTTP %i is %s', (status, kind) => {
    expect(classifyWebhookResponse({ status, responseExcerpt: 'ok' }, now)).toMatchObject({ kind, status });
  });

  it('keeps the response excerpt for the logs', () => {
    expect(classifyWebhookResponse({ status: 422, responseExcerpt: '{"error":"unknown event"}' }, now)).toEqual({
      kind: 'failed',
      status: 422,
      reason: 'the receiver rejected the webhook with HTTP 422',
      responseExcerpt: '{"error":"unknown event"}',
    });
  });

  it('explains that a redirect is not followed, naming where it pointed', () => {
    expect(classifyWebhookResponse({ status: 302, location: 'https://elsewhere.example/in', responseExcerpt: '' }, now)).toEqual({
      kind: 'retry',
      status: 302,
      reason: 'the receiver redirected to https://elsewhere.example/in (HTTP 302); redirects are not followed, so point the endpoint at the final URL',
      responseExcerpt: '',
    });
  });

  it('honours Retry-After on a retry', () => {
    expect(classifyWebhookResponse({ status: 503, retryAfter: '30', responseExcerpt: '' }, now)).toMatchObject({ kind: 'retry', retryAfterMs: 30_000 });
    expect(classifyWebhookResponse({ status: 429, responseExcerpt: '' }, now)).not.toHaveProperty('retryAfterMs');
  });
});

describe('Retry-After', () => {
  it.each([
    ['0', 0],
    ['120', 120_000],
    [' 7 ', 7_000],
    ['86400', 86_400_000],
    ['86401', 86_400_000], // capped at 24 h
    ['999999999999', 86_400_000],
    ['Sat, 01 Mar 2025 12:01:30 GMT', 90_000], // IMF-fixdate
    ['Saturday, 01-Mar-25 12:01:30 GMT', 90_000], // RFC 850
    ['Sat Mar  1 12:01:30 2025', 90_000], // asctime, which is GMT
    ['Sat, 01 Mar 2025 11:00:00 GMT', 0], // in the past
    ['Mon, 03 Mar 2025 12:00:00 GMT', 86_400_000], // more than a day away
  ])('reads %j as %i ms', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });

  it.each([[undefined], [''], ['-5'], ['1.5'], ['soon'], ['2025-03-01T12:01:30Z'], ['Sat, 99 Foo 2025 12:01:30 GMT']])('ignores %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeNull();
  });
});

describe('retry schedule', () => {
  const middle = () => 0.5;
  const SECOND = 1000;
  const MINUTE = 60 * SECOND;
  const HOUR = 60 * MINUTE;

  it.each([
    [1, 5 * SECOND],
    [2, 5 * MINUTE],
    [3, 30 * MINUTE],
    [4, 2 * HOUR],
    [5, 5 * HOUR],
    [6, 10 * HOUR],
    [7, 10 * HOUR],
  ])('after failed attempt %i waits %i ms (without jitter)', (attempt, delay) => {
    expect(webhookRetryDelayMs(attempt, middle)).toBe(delay);
  });

  it('gives up after the eighth attempt', () => {
    expect(webhookRetryDelayMs(8, middle)).toBeNull();
    expect(webhookRetryDelayMs(20, middle)).toBeNull();
  });

  it('jitters by at most 10% either way', () => {
    expect(webhookRetryDelayMs(2, () => 0)).toBe(270_000);
    expect(webhookRetryDelayMs(2, () => 0.999_999)).toBe(330_000);
    for (let i = 0; i < 200; i += 1) {
      const delay = webhookRetryDelayMs(4) ?? 0;
      expect(delay).toBeGreaterThanOrEqual(0.9 * 2 * HOUR);
      expect(delay).toBeLessThanOrEqual(1.1 * 2 * HOUR);
    }
  });

  it.each([[0], [-1], [1.5]])('throws for attempt %p, which is a bug in the caller', (attempt) => {
    expect(() => webhookRetryDelayMs(attempt)).toThrow(`attempt is counted from 1, got ${attempt}`);
  });
});
