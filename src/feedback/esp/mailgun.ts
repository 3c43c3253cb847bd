import { createHmac, timingSafeEqual } from 'node:crypto';
import type { FeedbackKind } from '../delivery-feedback.js';
import { isRecord, parseJson, text, type EspEvent, type EspRequest, type EspVerification } from './esp-event.js';

/*
 * Mailgun webhooks (documentation "Securing Webhooks"): the body carries `signature` with
 * `timestamp`, `token` and `signature`, the hex HMAC-SHA256 of timestamp + token under the HTTP
 * webhook signing key. Mailgun advises refusing old timestamps and tokens seen before: the token
 * is the receipt id, so a replay is refused.
 */

export function verifyMailgun(request: EspRequest, signingKey: string, now: Date, maxAgeMs: number): EspVerification {
  const body = parseJson(request.body);
  if (!isRecord(body) || !isRecord(body.signature)) return { kind: 'refused', reason: 'no signature object in the body' };
  const timestamp = text(body.signature.timestamp);
  const token = text(body.signature.token);
  const signature = text(body.signature.signature);
  if (!timestamp || !token || !signature || !/^[0-9a-f]{64}$/i.test(signature)) return { kind: 'refused', reason: 'signature fields missing or malformed' };
  const expected = createHmac('sha256', signingKey)
    .update(timestamp + token)
    .digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) return { kind: 'refused', reason: 'signature does not match' };
  if (Math.abs(now.getTime() - Number(timestamp) * 1000) > maxAgeMs) return { kind: 'refused', reason: 'timestamp too old or in the future (replay)' };
  const data = body['event-data'];
  if (!isRecord(data)) return { kind: 'nothing', receiptIds: [token], note: 'no event-data' };
  const event = eventOf(data);
  return event
    ? { kind: 'verified', events: [event], receiptIds: [token] }
    : { kind: 'nothing', receiptIds: [token], note: `event ${text(data.event) ?? '?'}` };
}

function eventOf(data: Record<string, unknown>): EspEvent | null {
  const kind = kindOf(text(data.event), text(data.severity));
  if (!kind) return null;
  const status = isRecord(data['delivery-status']) ? data['delivery-status'] : {};
  const headers = isRecord(data.message) && isRecord(data.message.headers) ? data.message.headers : {};
  const variables = isRecord(data['user-variables']) ? data['user-variables'] : {};
  const code = text(status['enhanced-code']) ?? (text(status.code) ? `${String(status.code)[0] === '4' ? '4' : '5'}.0.0` : null);
  return {
    sendId: text(variables.baton_send),
    messageId: text(headers['message-id']),
    recipient: text(data.recipient),
    kind,
    status: kind === 'complaint' || kind === 'unsubscribe' ? null : code,
    diagnostic: text(status.message) ?? text(status.description) ?? text(data.reason),
  };
}

function kindOf(event: string | null, severity: string | null): FeedbackKind | null {
  switch (event) {
    case 'failed':
      return severity === 'permanent' ? 'hard_bounce' : 'soft_bounce';
    case 'complained':
      return 'complaint';
    case 'unsubscribed':
      return 'unsubscribe';
    default:
      return null;
  }
}
