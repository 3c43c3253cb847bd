import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { FeedbackKind } from '../delivery-feedback.js';
import { header, isRecord, parseJson, text, type EspEvent, type EspRequest, type EspVerification } from './esp-event.js';

/*
 * SendGrid's signed event webhook: `X-Twilio-Email-Event-Webhook-Signature` is a base64 ECDSA
 * (P-256, SHA-256, DER) signature of the `X-Twilio-Email-Event-Webhook-Timestamp` header value
 * followed by the raw body, checked with the verification key shown in SendGrid's settings (base64
 * DER public key). Each event's `sg_event_id` is its receipt id.
 */

export function sendgridPublicKey(configured: string): KeyObject {
  const trimmed = configured.trim();
  return trimmed.includes('BEGIN PUBLIC KEY')
    ? createPublicKey(trimmed.replace(/\\n/g, '\n'))
    : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
}

export function verifySendgrid(request: EspRequest, publicKey: KeyObject, now: Date, maxAgeMs: number): EspVerification {
  const signature = header(request, 'x-twilio-email-event-webhook-signature');
  const timestamp = header(request, 'x-twilio-email-event-webhook-timestamp');
  if (!signature || !timestamp || !/^\d{1,12}$/.test(timestamp)) return { kind: 'refused', reason: 'signature or timestamp header missing' };
  const signed = Buffer.concat([Buffer.from(timestamp), request.body]);
  let valid = false;
  try {
    valid = verify('sha256', signed, { key: publicKey, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) return { kind: 'refused', reason: 'signature does not match' };
  if (Math.abs(now.getTime() - Number(timestamp) * 1000) > maxAgeMs) return { kind: 'refused', reason: 'timestamp too old or in the future (replay)' };
  const body = parseJson(request.body);
  if (!Array.isArray(body)) return { kind: 'refused', reason: 'the body is not an array of events' };
  const records = body.filter(isRecord);
  const receiptIds = records.flatMap((record) => text(record.sg_event_id) ?? []);
  const events = records.flatMap((record) => eventOf(record) ?? []);
  return events.length > 0
    ? { kind: 'verified', events, receiptIds }
    : { kind: 'nothing', receiptIds, note: 'no bounce, complaint or unsubscribe among the events' };
}

function eventOf(record: Record<string, unknown>): EspEvent | null {
  const kind = kindOf(text(record.event), text(record.type));
  if (!kind) return null;
  const status = text(record.status);
  return {
    sendId: text(record.baton_send),
    messageId: text(record['smtp-id']),
    recipient: text(record.email),
    kind,
    status: kind === 'hard_bounce' || kind === 'soft_bounce' ? status : null,
    diagnostic: text(record.reason),
  };
}

/** `bounce` of type bounce is permanent; of type blocked, a refusal that may pass; `deferred` SendGrid still retries itself. */
function kindOf(event: string | null, type: string | null): FeedbackKind | null {
  switch (event) {
    case 'bounce':
      return type === 'blocked' ? 'soft_bounce' : 'hard_bounce';
    case 'spamreport':
      return 'complaint';
    case 'unsubscribe':
    case 'group_unsubscribe':
      return 'unsubscribe';
    default:
      return null;
  }
}
