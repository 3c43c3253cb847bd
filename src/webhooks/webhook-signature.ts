import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Standard Webhooks signatures (standardwebhooks.com): an HMAC-SHA256 of "{id}.{timestamp}.{body}"
 * keyed with the bytes behind a `whsec_` secret, sent as `v1,<base64>`. While a secret is being
 * rotated an endpoint has several, and the header carries one signature per secret, separated by
 * spaces; a receiver accepts the message if any of them matches a secret it knows.
 */

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const MIN_WEBHOOK_KEY_BYTES = 24;
export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;

export type ParsedWebhookSecret = { ok: true; key: Buffer } | { ok: false; message: string };

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** Error messages never repeat the secret: they end up in logs and API responses. */
export function parseWebhookSecret(text: string): ParsedWebhookSecret {
  if (!text.startsWith(WEBHOOK_SECRET_PREFIX)) {
    return { ok: false, message: `a webhook secret starts with "${WEBHOOK_SECRET_PREFIX}" followed by base64` };
  }
  const encoded = text.slice(WEBHOOK_SECRET_PREFIX.length);
  const key = Buffer.from(encoded, 'base64');
  // Buffer.from skips characters it does not know, so check the text itself and that it round-trips.
  if (!BASE64.test(encoded) || key.toString('base64').replace(/=+$/, '') !== encoded.replace(/=+$/, '')) {
    return { ok: false, message: `the part after "${WEBHOOK_SECRET_PREFIX}" must be standard base64 (A-Z, a-z, 0-9, +, /, = padding)` };
  }
  if (key.length < MIN_WEBHOOK_KEY_BYTES) {
    return { ok: false, message: `a webhook secret needs a key of at least ${MIN_WEBHOOK_KEY_BYTES} bytes; this one has ${key.length}` };
  }
  return { ok: true, key };
}

/** Secrets reach signing already validated (when they were stored), so a bad one here is a bug. */
function keysOf(secrets: readonly string[]): Buffer[] {
  if (secrets.length === 0) throw new Error('a webhook needs at least one secret to be signed with');
  return secrets.map((secret, index) => {
    const parsed = parseWebhookSecret(secret);
    if (!parsed.ok) throw new Error(`webhook secret #${index + 1} is invalid: ${parsed.message}`);
    return parsed.key;
  });
}

const mac = (key: Buffer, id: string, timestamp: number | string, body: string) =>
  createHmac('sha256', key).update(`${id}.${timestamp}.${body}`, 'utf8').digest();

export interface WebhookToSign {
  id: string;
  /** Unix seconds, as sent in `webhook-timestamp`. */
  timestamp: number;
  /** The exact body sent; a receiver must verify the raw bytes, not re-serialised JSON. */
  body: string;
  /** `whsec_…` secrets, newest first. */
  secrets: readonly string[];
}

/** The `webhook-signature` header value. */
export function signWebhook({ id, timestamp, body, secrets }: WebhookToSign): string {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new Error(`a webhook timestamp is whole unix seconds, not ${timestamp}`);
  return keysOf(secrets)
    .map((key) => `v1,${mac(key, id, timestamp, body).toString('base64')}`)
    .join(' ');
}

export interface WebhookToVerify {
  /** The `webhook-id`, `webhook-timestamp` and `webhook-signature` header values as received. */
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  secrets: readonly string[];
  /** Milliseconds since the epoch. */
  now: number;
  toleranceSeconds?: number;
}

export type WebhookVerification = { ok: true } | { ok: false; reason: string };

export function verifyWebhook(input: WebhookToVerify): WebhookVerification {
  const { id, timestamp, signature, body, secrets, now, toleranceSeconds = WEBHOOK_TOLERANCE_SECONDS } = input;
  if (!/^\d{1,15}$/.test(timestamp)) return { ok: false, reason: 'webhook-timestamp is not a number of unix seconds' };
  // Old and future timestamps are both refused: a captured request must not be replayable later.
  if (Math.abs(now / 1000 - Number(timestamp)) > toleranceSeconds) {
    return { ok: false, reason: `webhook-timestamp is more than ${toleranceSeconds} seconds away from now` };
  }
  const given = signature
    .split(' ')
    .filter((entry) => entry.startsWith('v1,'))
    .map((entry) => Buffer.from(entry.slice(3), 'base64'));
  for (const key of keysOf(secrets)) {
    const expected = mac(key, id, timestamp, body);
    // Compare against every entry without stopping early, so timing says nothing about which matched.
    const matches = given.filter((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected));
    if (matches.length > 0) return { ok: true };
  }
  return { ok: false, reason: 'no v1 signature matches the secret' };
}
