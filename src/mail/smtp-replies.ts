/*
 * What an SMTP outcome means for Baton (RFC 5321 reply codes, RFC 3463 enhanced status codes,
 * and the provider codes in shared REFERENCES.md). Pure: it takes what Nodemailer reports and
 * returns a decision the sender switches on.
 */

export type SmtpOutcome =
  /** 2xx: accepted by the receiving server. */
  | { kind: 'sent' }
  /** A transient failure before anything was handed over (4xx, refused connection): try later. */
  | { kind: 'retry'; reason: string }
  /** The receiver asks us to slow down (421 4.7.28, 450 4.2.1): retry later, throttle that domain. */
  | { kind: 'throttle'; reason: string }
  /** The recipient address does not exist (5.1.x at RCPT TO): suppress the lead, never retry. */
  | { kind: 'hard_bounce'; reason: string }
  /** Mailbox full and the like (x.2.2): counts as a soft bounce; retry later. */
  | { kind: 'soft_bounce'; reason: string }
  /** Our sending setup is refused (authentication, policy, sender address): pause and alert; the lead is not at fault. */
  | { kind: 'sender_blocked'; reason: string }
  /** The connection failed after the message may have been handed over: never resend blindly, reconcile. */
  | { kind: 'unknown'; reason: string }
  /** Any other permanent failure, or a local one (a bad envelope): do not repeat as is. */
  | { kind: 'failed'; reason: string };

export interface SmtpFailure {
  /** SMTP reply code, when the server answered. */
  responseCode?: number;
  /** The server's reply text, e.g. "550 5.1.1 <x@y>: user unknown". */
  response?: string;
  /** Nodemailer's error code: ECONNECTION, ETIMEDOUT, EENVELOPE, EAUTH, … */
  code?: string;
  /** The SMTP command that failed, as Nodemailer names it: CONN, MAIL FROM, RCPT TO, DATA, AUTH … */
  command?: string;
  /** The error message, which carries the socket error (ECONNREFUSED, …) for connection failures. */
  message?: string;
}

// The enhanced code right after the reply code: "550 5.1.1 …" or "550-5.1.1 …".
const ENHANCED_STATUS = /^\d{3}[ -]([245])\.(\d{1,3})\.(\d{1,3})\b/;
const USER_UNKNOWN = /user unknown|no such user|unknown user|recipient (address )?unknown|does not exist/i;
// Connection failures where nothing can have been delivered.
const NOT_CONNECTED = /ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|ECONNRESET before greeting/i;
const SENDER_BLOCKED_47 = new Set(['26', '27', '29', '30', '31', '32', '515']);

export function classifySmtpFailure(failure: SmtpFailure): SmtpOutcome {
  const reason = (failure.response ?? failure.message ?? failure.code ?? 'no reply').slice(0, 500);
  if (failure.responseCode === undefined) return classifyWithoutReply(failure, reason);
  if (failure.responseCode < 400) return { kind: 'sent' };

  const status = ENHANCED_STATUS.exec(failure.response ?? '');
  const subject = status?.[2];
  const detail = status?.[3];
  const permanent = failure.responseCode >= 500;
  const atRecipient = failure.command === undefined || failure.command === 'RCPT TO';

  // The server refused us as a sender: nothing about this lead.
  if (failure.command === 'MAIL FROM' || failure.command === 'AUTH' || failure.command === 'EHLO' || failure.command === 'HELO') {
    return permanent ? { kind: 'sender_blocked', reason } : { kind: 'retry', reason };
  }
  // Mailbox full is soft whatever the reply class (552 5.2.2 is common); a bare 552 too (RFC 5321 §4.5.3.1.10).
  if ((subject === '2' && detail === '2') || (!status && failure.responseCode === 552)) return { kind: 'soft_bounce', reason };
  if ((subject === '7' && detail === '28') || (subject === '2' && detail === '1' && !permanent)) return { kind: 'throttle', reason };
  if (subject === '7') {
    // 5.7.x is policy or authentication; among 4.7.x only Gmail's authentication codes are ours
    // to fix, the rest (4.7.0, 4.7.1 greylisting) pass with time.
    return permanent || (detail !== undefined && SENDER_BLOCKED_47.has(detail)) ? { kind: 'sender_blocked', reason } : { kind: 'retry', reason };
  }
  if (!permanent) return { kind: 'retry', reason };
  if (subject === '1') {
    // 5.1.7 and 5.1.8 are about the sender's address, not the recipient's.
    if (detail === '7' || detail === '8') return { kind: 'sender_blocked', reason };
    return atRecipient ? { kind: 'hard_bounce', reason } : { kind: 'failed', reason };
  }
  if (!status && atRecipient && [550, 551, 553].includes(failure.responseCode) && USER_UNKNOWN.test(reason)) return { kind: 'hard_bounce', reason };
  return { kind: 'failed', reason };
}

function classifyWithoutReply(failure: SmtpFailure, reason: string): SmtpOutcome {
  switch (failure.code) {
    case 'EENVELOPE':
    case 'EMESSAGE':
    case 'ESTREAM':
      return { kind: 'failed', reason };
    case 'EAUTH':
      return { kind: 'sender_blocked', reason };
    case 'EDNS':
    case 'ETLS':
      return { kind: 'retry', reason };
    default:
      // Nodemailer labels most socket failures CONN, whenever they happen. Only a connection that
      // never opened is surely undelivered; any other drop may have come after the final dot.
      return NOT_CONNECTED.test(`${failure.message ?? ''} ${reason}`) ? { kind: 'retry', reason } : { kind: 'unknown', reason };
  }
}

/**
 * Retry delays for transient failures: minutes first (greylisting), then at least half an hour,
 * giving up after about two days. Returns null when it is time to stop.
 */
export function retryDelayMs(attempt: number): number | null {
  const schedule = [60_000, 5 * 60_000, 15 * 60_000, 30 * 60_000, 60 * 60_000, 2 * 3_600_000, 4 * 3_600_000, 8 * 3_600_000, 12 * 3_600_000, 24 * 3_600_000];
  return schedule[attempt - 1] ?? null;
}
