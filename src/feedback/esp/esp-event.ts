import type { FeedbackKind } from '../delivery-feedback.js';

/*
 * What an ESP webhook says once its signature is checked: events in Baton's terms, and the ids
 * the provider gave the delivery (so that a replayed call is recognised and refused).
 */

export type EspProvider = 'ses' | 'postmark' | 'sendgrid' | 'mailgun';

export interface EspEvent {
  /** How to find the send: Baton's send id when the provider echoes it, else the Message-ID. */
  sendId: string | null;
  messageId: string | null;
  /** The address the event is about; must be the send's, or the event is ignored. */
  recipient: string | null;
  kind: FeedbackKind;
  status: string | null;
  diagnostic: string | null;
}

/** An incoming webhook call: its headers (lower-cased names) and the raw body bytes. */
export interface EspRequest {
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export type EspVerification =
  | { kind: 'verified'; events: EspEvent[]; receiptIds: string[] }
  /** Signed correctly but carries nothing to record (a delivery, an open, a subscription notice). */
  | { kind: 'nothing'; receiptIds: string[]; note: string }
  | { kind: 'refused'; reason: string };

export const header = (request: EspRequest, name: string): string | null => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : Array.isArray(value) ? (value[0] ?? null) : null;
};

/** JSON from a body, or null: malformed JSON is refused like a bad signature, never thrown. */
export function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    return null;
  }
}

export const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
export const text = (value: unknown): string | null =>
  typeof value === 'string' && value.length > 0 ? value : typeof value === 'number' ? String(value) : null;

/**
 * Headers that make ESPs echo the send id in their webhooks: Postmark returns X-PM-Metadata-*
 * as Metadata. (SES, SendGrid and Mailgun report the Message-ID, which names the send already.)
 */
export function espCorrelationHeaders(sendId: string): Record<string, string> {
  return { 'X-PM-Metadata-baton_send': sendId };
}
