/*
 * What an SMTP outcome means for Baton (RFC 5321 reply codes, RFC 3463 enhanced status codes).
 * Pure: takes what Nodemailer reports, returns a decision the sender switches on.
 */

export type SmtpOutcome =
  /** 2xx: accepted by the receiving server. */
  | { kind: 'sent' }
  /** 4xx or a dropped connection before DATA: try again later with backoff. */
  | { kind: 'retry'; reason: string }
  /** The address does not exist (5.1.x): suppress the lead, never retry. */
  | { kind: 'hard_bounce'; reason: string }
  /** Mailbox full and the like (x.2.2): counts as a soft bounce; retry later. */
  | { kind: 'soft_bounce'; reason: string }
  /** Policy or authentication (5.7.x, 4.7.x): our configuration, not the lead. Pause and alert. */
  | { kind: 'sender_blocked'; reason: string }
  /** The connection died after the message was sent: it may have been delivered. Never resend blindly. */
  | { kind: 'unknown'; reason: string }
  /** Any other permanent failure (5xx): do not repeat as is. */
  | { kind: 'failed'; reason: string };

export interface SmtpFailure {
  /** SMTP reply code, when the server answered. */
  responseCode?: number;
  /** The server's reply text, e.g. "550 5.1.1 <x@y>: user unknown". */
  response?: string;
  /** Nodemailer's error code: ECONNECTION, ETIMEDOUT, EENVELOPE, EMESSAGE, … */
  code?: string;
  /** Which SMTP command failed: CONN, EHLO, MAIL FROM, RCPT TO, DATA, … */
  command?: string;
}

const ENHANCED_STATUS = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;
const USER_UNKNOWN = /user unknown|no such user|unknown user|mailbox unavailable|does not exist|recipient rejected|address rejected/i;

export function classifySmtpFailure(failure: SmtpFailure): SmtpOutcome {
  const reason = (failure.response ?? failure.code ?? 'no reply').slice(0, 500);
  const status = ENHANCED_STATUS.exec(failure.response ?? '');
  const statusClass = status?.[1];
  const subject = status?.[2];
  const detail = status?.[3];

  if (failure.responseCode === undefined) {
    // No reply at all. Before DATA was accepted, nothing was delivered: safe to retry. After the
    // final dot, the server may have taken the message: reconcile instead of resending.
    return failure.command === 'DATA'
      ? { kind: 'unknown', reason }
      : { kind: 'retry', reason };
  }
  if (failure.responseCode < 400) return { kind: 'sent' };
  // Mailbox full is soft whatever the reply class (552 5.2.2 is common).
  if (subject === '2' && detail === '2') return { kind: 'soft_bounce', reason };
  if (subject === '7') return { kind: 'sender_blocked', reason };
  if (failure.responseCode < 500) return { kind: 'retry', reason };
  if (statusClass === '5' && subject === '1') return { kind: 'hard_bounce', reason };
  if (!status && (failure.responseCode === 550 || failure.responseCode === 551 || failure.responseCode === 553) && USER_UNKNOWN.test(reason)) {
    return { kind: 'hard_bounce', reason };
  }
  return { kind: 'failed', reason };
}

/**
 * Retry delays for transient failures: minutes first (greylisting), then at least half an hour,
 * giving up after about three days. Returns null when it is time to stop.
 */
export function retryDelayMs(attempt: number): number | null {
  const schedule = [60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000, 2 * 3_600_000, 4 * 3_600_000, 8 * 3_600_000, 12 * 3_600_000, 24 * 3_600_000];
  return schedule[attempt - 1] ?? null;
}
