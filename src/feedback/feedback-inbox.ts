import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { FeedbackAddresses } from './bounce-address.js';
import type { DeliveryFeedback } from './delivery-feedback.js';
import { findSendIdByMessageId } from './feedback.repository.js';
import { recordDeliveryFeedback, type FeedbackOutcome, type FeedbackRecorderDeps } from './record-feedback.js';
import { parseFeedbackMessage, type ParsedReport } from './report-parser.js';

/*
 * What the inbound listener does with a message once it is accepted: which send it concerns and
 * what it says. The send comes from the envelope recipient (the signed VERP address) when there
 * is one; a report mailed to a plain mailbox of the bounce domain (a feedback loop's address) is
 * matched through the VERP Return-Path or the Message-ID of the original it quotes. Anything
 * that names no known send, or says nothing actionable, is logged and dropped.
 */

/** Plain mailboxes of the bounce domain that feedback loops and postmasters write to. */
export const REPORT_MAILBOXES = ['abuse', 'fbl', 'postmaster', 'complaints'];

export type InboxVerdict = { kind: 'recorded'; feedback: DeliveryFeedback; outcome: FeedbackOutcome } | { kind: 'ignored'; reason: string };

export interface FeedbackInbox {
  /** True for an envelope recipient the listener should take (checked at RCPT TO). */
  accepts(recipient: string): boolean;
  receive(message: { raw: string; recipients: string[]; mailFrom: string | null }, now: Date): Promise<InboxVerdict[]>;
}

export function createFeedbackInbox(deps: FeedbackRecorderDeps & { addresses: FeedbackAddresses; logger?: Logger }): FeedbackInbox {
  const { addresses } = deps;
  const isReportMailbox = (recipient: string) => {
    const at = recipient.lastIndexOf('@');
    return at > 0 && recipient.slice(at + 1).toLowerCase() === addresses.domain && REPORT_MAILBOXES.includes(recipient.slice(0, at).toLowerCase());
  };

  async function forRecipient(recipient: string, mailFrom: string | null, parsed: () => ParsedReport, now: Date): Promise<InboxVerdict> {
    const named = addresses.read(recipient);
    if (named?.kind === 'unsubscribe') {
      // RFC 2369 mailto: any message from a person is the request. A message from the null
      // sender is a bounce or an auto-reply, never a person asking.
      if (!mailFrom) return { kind: 'ignored', reason: 'mail to an unsubscribe address from the null sender' };
      return record({ sendId: named.sendId, kind: 'unsubscribe', status: null, diagnostic: null, source: 'mailto' }, now);
    }
    const report = parsed();
    if (report.kind === 'ignored') return report;
    const quoted = report.kind === 'complaint' ? report.envelopeSender : null;
    const sendId = named?.sendId ?? (await sendOfOriginal(deps.db, addresses, quoted, report.original));
    if (!sendId) return { kind: 'ignored', reason: `a ${report.kind} naming no send of Baton's` };
    return record(
      report.kind === 'complaint'
        ? { sendId, kind: 'complaint', status: null, diagnostic: report.feedbackType, source: 'arf' }
        : { sendId, kind: report.bounce, status: report.status, diagnostic: report.diagnostic, source: report.source },
      now,
    );
  }

  async function record(feedback: DeliveryFeedback, now: Date): Promise<InboxVerdict> {
    const outcome = await recordDeliveryFeedback(deps, feedback, now);
    if (outcome.kind === 'unknown_send') return { kind: 'ignored', reason: `send ${feedback.sendId} no longer exists` };
    return { kind: 'recorded', feedback, outcome };
  }

  return {
    accepts: (recipient) => addresses.read(recipient) !== null || isReportMailbox(recipient),
    async receive({ raw, recipients, mailFrom }, now) {
      let parsedOnce: ParsedReport | null = null;
      const parsed = () => (parsedOnce ??= parseFeedbackMessage(raw));
      const verdicts: InboxVerdict[] = [];
      for (const recipient of new Set(recipients.map((r) => r.trim()))) {
        const verdict = await forRecipient(recipient, mailFrom, parsed, now);
        if (verdict.kind === 'ignored') deps.logger?.warn({ recipient: recipient.slice(0, 100), reason: verdict.reason }, 'inbound mail ignored');
        verdicts.push(verdict);
      }
      return verdicts;
    },
  };
}

/**
 * The send a report names: the signed VERP envelope sender it quotes (ARF Original-Mail-From, the
 * original's Return-Path) first, else the original's Message-ID.
 */
async function sendOfOriginal(
  db: Kysely<Database>,
  addresses: FeedbackAddresses,
  envelopeSender: string | null,
  original: Map<string, string> | null,
): Promise<string | null> {
  for (const candidate of [envelopeSender, original?.get('return-path') ?? null]) {
    const named = candidate ? addresses.read(candidate.trim().replace(/^<|>$/g, '')) : null;
    if (named?.kind === 'bounce') return named.sendId;
  }
  const messageId = original?.get('message-id')?.trim();
  return messageId && messageId.length <= 300 ? findSendIdByMessageId(db, messageId) : null;
}
