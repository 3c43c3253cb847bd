/*
 * What became of one delivery attempt, and when to try again. Pure: the sender feeds in what the
 * receiver answered, the caller switches on `kind`.
 */

export type WebhookOutcome =
  | { kind: 'delivered'; status: number; responseExcerpt: string }
  /** 410 Gone: the receiver asks us to stop; the caller disables the endpoint. */
  | { kind: 'gone'; status: number; responseExcerpt: string }
  /** Worth trying again later; `status` is absent when no response arrived (timeout, network). */
  | { kind: 'retry'; status?: number; retryAfterMs?: number; reason: string; responseExcerpt?: string }
  /** The receiver rejected this message; sending it again would get the same answer. */
  | { kind: 'failed'; status: number; reason: string; responseExcerpt: string }
  /** The URL is not allowed (scheme, credentials, private address); no request was made. */
  | { kind: 'refused'; reason: string };

export interface ReceiverResponse {
  status: number;
  /** Raw `Retry-After` header, if any. */
  retryAfter?: string;
  location?: string;
  responseExcerpt: string;
}

export const MAX_RETRY_AFTER_MS = 24 * 60 * 60 * 1000;

/** `Retry-After` as delay-seconds or an HTTP date, capped at 24 h; null when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now: number): number | null {
  if (value === undefined) return null;
  const text = value.trim();
  let delayMs: number;
  if (/^\d+$/.test(text)) {
    delayMs = Number(text) * 1000;
  } else {
    const date = parseHttpDate(text);
    if (date === null) return null;
    delayMs = date - now;
  }
  return Math.min(Math.max(delayMs, 0), MAX_RETRY_AFTER_MS);
}

/*
 * HTTP allows three date formats. Date.parse alone would also take "1.5" or "tomorrow"-like text,
 * and would read the asctime format in local time, so recognise the formats first.
 */
const IMF_OR_RFC850_DATE = /^[A-Za-z]{3,9}, [\dA-Za-z -]+ \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;

function parseHttpDate(text: string): number | null {
  let date = NaN;
  if (IMF_OR_RFC850_DATE.test(text)) date = Date.parse(text);
  else if (ASCTIME_DATE.test(text)) date = Date.parse(`${text} GMT`);
  return Number.isNaN(date) ? null : date;
}

export function classifyWebhookResponse(response: ReceiverResponse, now: number): WebhookOutcome {
  const { status, responseExcerpt } = response;
  if (status >= 200 && status < 300) return { kind: 'delivered', status, responseExcerpt };
  if (status === 410) return { kind: 'gone', status, responseExcerpt };

  const reason = retryReason(response);
  if (reason) {
    const retryAfterMs = parseRetryAfter(response.retryAfter, now);
    return { kind: 'retry', status, reason, responseExcerpt, ...(retryAfterMs === null ? {} : { retryAfterMs }) };
  }
  return { kind: 'failed', status, reason: `the receiver rejected the webhook with HTTP ${status}`, responseExcerpt };
}

function retryReason({ status, location }: ReceiverResponse): string | null {
  // Redirects are not followed: the new location has not passed the destination guard.
  if (status >= 300 && status < 400) {
    const target = location ? ` to ${location.slice(0, 200)}` : '';
    return `the receiver redirected${target} (HTTP ${status}); redirects are not followed, so point the endpoint at the final URL`;
  }
  if (status === 408 || status === 429) return `the receiver asked to try later (HTTP ${status})`;
  if (status >= 500) return `the receiver failed (HTTP ${status})`;
  // Node reports only final statuses, so a status below 200 means a confused receiver or proxy.
  if (status < 200) return `unexpected HTTP status ${status}`;
  return null;
}

/* ---------- retry schedule ---------- */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Delays after attempts 1–7 (the Standard Webhooks / Svix schedule); after the 8th attempt we give up. */
export const WEBHOOK_RETRY_SCHEDULE_MS: readonly number[] = [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 10 * HOUR];

/**
 * How long to wait after failed attempt number `attempt` (1 = the first delivery), or null to give
 * up. ±10% jitter keeps endpoints that failed together from being retried in one burst.
 * `random` returns a number in [0, 1), like Math.random.
 */
export function webhookRetryDelayMs(attempt: number, random: () => number = Math.random): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt is counted from 1, got ${attempt}`);
  const base = WEBHOOK_RETRY_SCHEDULE_MS[attempt - 1];
  if (base === undefined) return null;
  return Math.round(base * (0.9 + 0.2 * random()));
}

/**
 * The wait before the next attempt after failed attempt number `attempt`, or null to give up:
 * the schedule above, or longer when the receiver's `Retry-After` asked for more (never shorter,
 * so a receiver cannot speed retries up past the schedule).
 */
export function nextAttemptDelayMs(attempt: number, retryAfterMs: number | undefined, random: () => number = Math.random): number | null {
  const scheduled = webhookRetryDelayMs(attempt, random);
  if (scheduled === null) return null;
  return Math.max(scheduled, retryAfterMs ?? 0);
}
