import { retryDelayMs as transientRetryDelayMs, type SmtpOutcome } from '../mail/smtp-replies.js';

/*
 * When a send that failed for now is tried again (pure). A soft bounce during the SMTP
 * conversation (mailbox full) follows BATON_SOFT_BOUNCE_RETRIES (default 15 min, 1 h, 4 h, then
 * failed); other transient replies and throttling follow the greylisting-friendly schedule of
 * smtp-replies.ts (minutes first, giving up after about two days).
 */

export type RetryableKind = Extract<SmtpOutcome['kind'], 'retry' | 'throttle' | 'soft_bounce'>;

export function isRetryable(kind: SmtpOutcome['kind']): kind is RetryableKind {
  return kind === 'retry' || kind === 'throttle' || kind === 'soft_bounce';
}

/** The wait after failed attempt `attempt` (1 is the first), or null: give up, the send has failed. */
export function retryDelayMs(kind: RetryableKind, attempt: number, softBounceSchedule: readonly number[]): number | null {
  if (!Number.isInteger(attempt) || attempt < 1) return null;
  switch (kind) {
    case 'soft_bounce':
      return softBounceSchedule[attempt - 1] ?? null;
    case 'retry':
    case 'throttle':
      return transientRetryDelayMs(attempt);
  }
}
