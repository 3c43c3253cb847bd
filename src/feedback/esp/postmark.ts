import { createHash, timingSafeEqual } from 'node:crypto';
import type { FeedbackKind } from '../delivery-feedback.js';
import { header, isRecord, parseJson, text, type EspEvent, type EspRequest, type EspVerification } from './esp-event.js';

/*
 * Postmark webhooks are not signed: Postmark documents HTTP basic authentication, credentials put
 * in the webhook URL (https://user:password@host/...), optionally with its IP allow-list. Nothing
 * in a call dates it, so a replay is recognised by the record's ID (bounce or complaint id), kept
 * as the receipt. Baton adds `X-PM-Metadata-baton_send` to every email, which Postmark returns as
 * Metadata.baton_send.
 */

export function verifyPostmark(request: EspRequest, credentials: string): EspVerification {
  const authorization = header(request, 'authorization') ?? '';
  const match = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(authorization.trim());
  if (!match?.[1]) return { kind: 'refused', reason: 'no basic authorization' };
  // Hashes first: equal lengths for the constant-time compare, whatever was sent.
  const given = createHash('sha256').update(Buffer.from(match[1], 'base64').toString('utf8')).digest();
  if (!timingSafeEqual(given, createHash('sha256').update(credentials).digest())) return { kind: 'refused', reason: 'wrong credentials' };
  const body = parseJson(request.body);
  if (!isRecord(body)) return { kind: 'refused', reason: 'the body is not a JSON object' };
  const id = text(body.ID);
  const receiptIds = id ? [`${text(body.RecordType) ?? '?'}:${id}`] : [];
  const kind = kindOf(text(body.RecordType), text(body.Type));
  if (!kind) return { kind: 'nothing', receiptIds, note: `record ${text(body.RecordType) ?? '?'} ${text(body.Type) ?? ''}` };
  const metadata = isRecord(body.Metadata) ? body.Metadata : {};
  const event: EspEvent = {
    sendId: text(metadata.baton_send),
    messageId: null,
    recipient: text(body.Email),
    kind,
    status: kind === 'hard_bounce' ? '5.0.0' : kind === 'soft_bounce' ? '4.0.0' : null,
    diagnostic: text(body.Details) ?? text(body.Description),
  };
  return { kind: 'verified', events: [event], receiptIds };
}

function kindOf(recordType: string | null, type: string | null): FeedbackKind | null {
  if (recordType === 'SpamComplaint') return 'complaint';
  if (recordType === 'SubscriptionChange') return null;
  if (recordType !== 'Bounce') return null;
  switch (type) {
    case 'HardBounce':
    case 'BadEmailAddress':
      return 'hard_bounce';
    case 'SoftBounce':
    case 'Transient':
    case 'DnsError':
      return 'soft_bounce';
    case 'SpamComplaint':
      return 'complaint';
    case 'Unsubscribe':
      return 'unsubscribe';
    default:
      return null;
  }
}
