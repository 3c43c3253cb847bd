import { bounceKindOfStatus } from './delivery-feedback.js';
import { allEntities, contentTypeOf, decodedBody, parseEntity, parseHeaderBlock, type MimeEntity } from './mime-parts.js';

/*
 * Reads a message that arrived at the bounce domain: an RFC 3464 delivery status notification,
 * an RFC 5965 ARF complaint, or one of the plain-text bounces that MTAs still send (Postfix
 * without DSN, Exim, qmail). Pure: text in, a value out; which send it concerns is decided by
 * the caller from the envelope (the VERP address) and, failing that, the original's headers.
 */

export interface DsnRecipient {
  recipient: string | null;
  action: string | null;
  status: string;
  diagnostic: string | null;
}

export type ParsedReport =
  | {
      kind: 'bounce';
      source: 'dsn' | 'plain_bounce';
      bounce: 'hard_bounce' | 'soft_bounce';
      status: string;
      diagnostic: string | null;
      original: Map<string, string> | null;
    }
  /** `envelopeSender`: the report's Original-Mail-From, which is the VERP address of the send. */
  | { kind: 'complaint'; feedbackType: string; envelopeSender: string | null; original: Map<string, string> | null }
  /** Mail that says nothing Baton acts on: a success DSN, an auto-reply, junk. `reason` is for the log. */
  | { kind: 'ignored'; reason: string };

const MAX_DIAGNOSTIC = 500;

export function parseFeedbackMessage(raw: string): ParsedReport {
  const root = parseEntity(raw);
  const entities = allEntities(root);
  const dsn = entities.find((entity) => ['message/delivery-status', 'message/global-delivery-status'].includes(contentTypeOf(entity).type));
  if (dsn) return fromDeliveryStatus(dsn, originalHeaders(entities));
  const arf = entities.find((entity) => contentTypeOf(entity).type === 'message/feedback-report');
  if (arf) return fromFeedbackReport(arf, originalHeaders(entities));
  return fromPlainText(root, entities);
}

/** RFC 3464 §2.1: per-message fields, then one block of fields per recipient. */
function fromDeliveryStatus(part: MimeEntity, original: Map<string, string> | null): ParsedReport {
  const blocks = decodedBody(part)
    .replace(/\r\n/g, '\n')
    .split(/\n[ \t]*\n/)
    .slice(1);
  const recipients: DsnRecipient[] = blocks
    .map(parseHeaderBlock)
    .filter((fields) => fields.has('status'))
    .map((fields) => ({
      recipient: addressOfField(fields.get('final-recipient') ?? fields.get('original-recipient')),
      action: fields.get('action') ?? null,
      status: (fields.get('status') ?? '').split(/\s/)[0] ?? '',
      diagnostic: clip(fields.get('diagnostic-code')?.replace(/^smtp;\s*/i, '') ?? null),
    }));
  // Baton sends one recipient per message; should a DSN list several, the worst verdict counts.
  let chosen: { recipient: DsnRecipient; bounce: 'hard_bounce' | 'soft_bounce' } | null = null;
  for (const recipient of recipients) {
    const bounce = bounceKindOfStatus(recipient.status, recipient.action ?? undefined);
    if (bounce && (!chosen || (chosen.bounce === 'soft_bounce' && bounce === 'hard_bounce'))) chosen = { recipient, bounce };
  }
  if (!chosen)
    return {
      kind: 'ignored',
      reason:
        recipients.length === 0
          ? 'delivery status without a recipient Status field'
          : `delivery status reports no failure (${recipients.map((r) => `${r.action ?? '?'} ${r.status}`).join(', ')})`,
    };
  return { kind: 'bounce', source: 'dsn', bounce: chosen.bounce, status: chosen.recipient.status, diagnostic: chosen.recipient.diagnostic, original };
}

/** RFC 5965 §3.1: Feedback-Type abuse or fraud is a complaint; not-spam and the rest are not. */
function fromFeedbackReport(part: MimeEntity, original: Map<string, string> | null): ParsedReport {
  const fields = parseHeaderBlock(decodedBody(part));
  const feedbackType = (fields.get('feedback-type') ?? '').toLowerCase();
  if (feedbackType !== 'abuse' && feedbackType !== 'fraud')
    return { kind: 'ignored', reason: `feedback report of type "${feedbackType || 'none'}" is not a complaint` };
  return { kind: 'complaint', feedbackType, envelopeSender: addressOfField(fields.get('original-mail-from')), original };
}

// Who sends bounces, and what they call them (Postfix, Exim, qmail, Sendmail, Exchange).
const BOUNCE_SENDER = /mailer-daemon|postmaster|mail delivery (system|subsystem)/i;
const BOUNCE_SUBJECT =
  /undeliver|undelivered|delivery (status notification|failure|has failed)|returned mail|failure notice|mail delivery failed|could not be delivered|non-?delivery/i;
const PERMANENT_WORDS = /permanent (error|failure)|I've given up|user unknown|no such (user|mailbox)|does not exist|mailbox unavailable|address rejected/i;
const TEMPORARY_WORDS = /temporar(y|ily)|delayed|will (be )?retry|still trying|not yet been delivered/i;
const ENHANCED_IN_TEXT = /(?:^|[\s(#:;])([45]\.\d{1,3}\.\d{1,3})(?=[\s).,;:]|$)/m;
const REPLY_IN_TEXT = /(?:^|\s)([45]\d\d)[ -]/m;

/**
 * A bounce without the DSN format: only trusted when it looks like one (from a mailer daemon or
 * titled as a bounce) and states a failure; an auto-reply or a person's answer is ignored.
 */
function fromPlainText(root: MimeEntity, entities: MimeEntity[]): ParsedReport {
  const from = root.headers.get('from') ?? '';
  const subject = root.headers.get('subject') ?? '';
  if (/auto-?(submitted|replied)/i.test(root.headers.get('auto-submitted') ?? '') && !BOUNCE_SENDER.test(from))
    return { kind: 'ignored', reason: 'an automatic reply, not a bounce' };
  if (!BOUNCE_SENDER.test(from) && !BOUNCE_SUBJECT.test(subject)) return { kind: 'ignored', reason: 'neither a report nor a bounce' };
  const text = entities
    .filter((entity) => contentTypeOf(entity).type === 'text/plain')
    .map(decodedBody)
    .join('\n')
    .slice(0, 200_000);
  const enhanced = ENHANCED_IN_TEXT.exec(text);
  const reply = REPLY_IN_TEXT.exec(text);
  const permanent = PERMANENT_WORDS.test(text);
  const temporary = TEMPORARY_WORDS.test(text) && !permanent;
  const status = enhanced?.[1] ?? (reply?.[1] ? `${reply[1][0] ?? '5'}.0.0` : permanent ? '5.0.0' : temporary ? '4.0.0' : null);
  if (!status) return { kind: 'ignored', reason: 'a bounce-like message without any status' };
  const bounce = bounceKindOfStatus(temporary && status.startsWith('5.0.') ? '4.0.0' : status);
  if (!bounce) return { kind: 'ignored', reason: `status ${status} is not a failure` };
  const at = enhanced?.index ?? reply?.index ?? 0;
  const line = text.slice(text.lastIndexOf('\n', at) + 1, text.indexOf('\n', at + 2) < 0 ? undefined : text.indexOf('\n', at + 2)).trim();
  return { kind: 'bounce', source: 'plain_bounce', bounce, status, diagnostic: clip(line || null), original: embeddedOriginal(text) };
}

/** The returned message's headers: a message/rfc822 or text/rfc822-headers part. */
function originalHeaders(entities: MimeEntity[]): Map<string, string> | null {
  const part = entities.find((entity) =>
    ['message/rfc822', 'text/rfc822-headers', 'message/rfc822-headers', 'message/global', 'message/global-headers'].includes(contentTypeOf(entity).type),
  );
  return part ? parseEntity(decodedBody(part)).headers : null;
}

/** Exim and qmail quote the original after a marker line; its headers follow. */
function embeddedOriginal(text: string): Map<string, string> | null {
  const marker = /^.*(copy of the message|original message follows|Below this line is a copy|Undelivered message headers).*$/im.exec(text);
  if (!marker) return null;
  return parseEntity(text.slice(marker.index + marker[0].length).replace(/^\s*\n/, '')).headers;
}

/** "rfc822; someone@example.org" → someone@example.org */
function addressOfField(value: string | undefined): string | null {
  if (!value) return null;
  const address = value.includes(';') ? value.slice(value.indexOf(';') + 1) : value;
  return address.trim().replace(/^<|>$/g, '') || null;
}

function clip(text: string | null): string | null {
  return text === null ? null : text.slice(0, MAX_DIAGNOSTIC);
}
