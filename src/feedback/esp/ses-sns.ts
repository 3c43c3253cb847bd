import { verify, X509Certificate } from 'node:crypto';
import type { FeedbackKind } from '../delivery-feedback.js';
import { isRecord, parseJson, text, type EspEvent, type EspRequest, type EspVerification } from './esp-event.js';

/*
 * Amazon SES notifications through SNS (SNS documentation "Verifying the signatures of Amazon SNS
 * messages"): the message's fields, in a fixed order as "Name\nvalue\n", are signed with the key
 * of the certificate at SigningCertURL, RSA with SHA1 (SignatureVersion 1) or SHA256 (2). The
 * certificate URL must be https on an sns.<region>.amazonaws.com host, or anyone could sign with
 * a certificate of their own; certificates are cached. Where the certificate comes from is a
 * parameter (BATON_SES_SNS_CERTIFICATE_FILE for offline use and tests). SNS MessageId is the
 * receipt id; a Timestamp older than the tolerance is a replay.
 */

/** The PEM certificate at a (checked) SigningCertURL. */
export type CertificateSource = (url: string) => Promise<string>;

const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

export function isSnsCertificateUrl(url: string): boolean {
  if (!URL.canParse(url)) return false;
  const parsed = new URL(url);
  return parsed.protocol === 'https:' && SNS_HOST.test(parsed.hostname) && parsed.pathname.endsWith('.pem') && !parsed.port && !parsed.username;
}

/** Fetches certificates over https, each once per process. */
export function fetchedCertificates(
  fetchText: (url: string) => Promise<string> = async (url) => {
    const response = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(10_000) });
    if (!response.ok) throw new Error(`certificate ${url}: HTTP ${response.status}`);
    return response.text();
  },
): CertificateSource {
  const cache = new Map<string, Promise<string>>();
  return (url) => {
    let pending = cache.get(url);
    if (!pending) {
      pending = fetchText(url);
      pending.catch(() => cache.delete(url));
      cache.set(url, pending);
    }
    return pending;
  };
}

const NOTIFICATION_FIELDS = ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type'];
const SUBSCRIPTION_FIELDS = ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];

/** The string SNS signs: each present field as "Name\nvalue\n", in this order (Subject only when present). */
export function snsStringToSign(message: Record<string, unknown>): string {
  const fields = message.Type === 'Notification' ? NOTIFICATION_FIELDS : SUBSCRIPTION_FIELDS;
  return fields
    .filter((field) => typeof message[field] === 'string')
    .map((field) => `${field}\n${String(message[field])}\n`)
    .join('');
}

export interface SesVerifyOptions {
  certificates: CertificateSource;
  /** Only these topics (BATON_SES_SNS_TOPIC_ARNS); empty: any topic. */
  topicArns: string[];
  now: Date;
  maxAgeMs: number;
}

export async function verifySesSns(request: EspRequest, options: SesVerifyOptions): Promise<EspVerification> {
  const message = parseJson(request.body);
  if (!isRecord(message)) return { kind: 'refused', reason: 'the body is not an SNS message' };
  const certUrl = text(message.SigningCertURL);
  const signature = text(message.Signature);
  const version = text(message.SignatureVersion);
  if (!certUrl || !signature || (version !== '1' && version !== '2')) return { kind: 'refused', reason: 'unsigned SNS message' };
  if (!isSnsCertificateUrl(certUrl)) return { kind: 'refused', reason: 'SigningCertURL is not an https sns.*.amazonaws.com certificate' };
  let valid = false;
  try {
    const certificate = new X509Certificate(await options.certificates(certUrl));
    valid = verify(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256', Buffer.from(snsStringToSign(message)), certificate.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  if (!valid) return { kind: 'refused', reason: 'signature does not match' };
  const topic = text(message.TopicArn) ?? '';
  if (options.topicArns.length > 0 && !options.topicArns.includes(topic))
    return { kind: 'refused', reason: `topic ${topic} is not in BATON_SES_SNS_TOPIC_ARNS` };
  const sentAt = Date.parse(text(message.Timestamp) ?? '');
  if (!Number.isFinite(sentAt) || Math.abs(options.now.getTime() - sentAt) > options.maxAgeMs)
    return { kind: 'refused', reason: 'timestamp too old or in the future (replay)' };
  const receiptIds = [text(message.MessageId) ?? ''].filter(Boolean);
  if (message.Type !== 'Notification') {
    // Confirming means fetching SubscribeURL: left to the operator (docs/feedback.md), never automatic.
    return {
      kind: 'nothing',
      receiptIds,
      note: `${String(message.Type)}: confirm the subscription by opening its SubscribeURL: ${text(message.SubscribeURL) ?? ''}`,
    };
  }
  const notification = parseJson(Buffer.from(text(message.Message) ?? ''));
  if (!isRecord(notification)) return { kind: 'nothing', receiptIds, note: 'the notification is not SES JSON' };
  const events = eventsOf(notification);
  return events.length > 0
    ? { kind: 'verified', events, receiptIds }
    : { kind: 'nothing', receiptIds, note: `SES ${String(notification.notificationType ?? notification.eventType)}` };
}

/** SES notification (notificationType) or event publishing (eventType) JSON → events. */
function eventsOf(notification: Record<string, unknown>): EspEvent[] {
  const type = text(notification.notificationType) ?? text(notification.eventType);
  const mail = isRecord(notification.mail) ? notification.mail : {};
  const common = isRecord(mail.commonHeaders) ? mail.commonHeaders : {};
  const headers = Array.isArray(mail.headers) ? mail.headers.filter(isRecord) : [];
  const sendId = text(headers.find((h) => typeof h.name === 'string' && h.name.toLowerCase() === 'x-baton-send')?.value);
  const messageId = text(common.messageId);
  const about = { sendId, messageId };
  if (type === 'Bounce' && isRecord(notification.bounce)) {
    const bounce = notification.bounce;
    // Permanent bounces are hard; Transient and Undetermined may pass.
    const kind: FeedbackKind = bounce.bounceType === 'Permanent' ? 'hard_bounce' : 'soft_bounce';
    const recipients = Array.isArray(bounce.bouncedRecipients) ? bounce.bouncedRecipients.filter(isRecord) : [];
    return recipients.map((recipient) => ({
      ...about,
      recipient: text(recipient.emailAddress),
      kind,
      status: text(recipient.status) ?? (kind === 'hard_bounce' ? '5.0.0' : '4.0.0'),
      diagnostic: text(recipient.diagnosticCode) ?? text(bounce.bounceSubType),
    }));
  }
  if (type === 'Complaint' && isRecord(notification.complaint)) {
    const complaint = notification.complaint;
    if (complaint.complaintFeedbackType === 'not-spam') return [];
    const recipients = Array.isArray(complaint.complainedRecipients) ? complaint.complainedRecipients.filter(isRecord) : [];
    return recipients.map((recipient) => ({
      ...about,
      recipient: text(recipient.emailAddress),
      kind: 'complaint' as const,
      status: null,
      diagnostic: text(complaint.complaintFeedbackType) ?? 'abuse',
    }));
  }
  return [];
}
