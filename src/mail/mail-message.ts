import type Mail from 'nodemailer/lib/mailer/index.js';
import type { RenderedEmail } from '../templates/template-store.js';

export interface OutgoingEmail {
  rendered: RenderedEmail;
  to: string;
  from: string;
  /** Deterministic per send, so a retried send carries the same id and receivers can dedupe. */
  messageId: string;
  /** The one-click unsubscribe URL (https in production); required for marketing email. */
  unsubscribeUrl: string | null;
  /** Extra headers Baton sets itself (never from lead data). */
  headers?: Record<string, string>;
  /** The VERP envelope sender (src/feedback/bounce-address.ts); absent: the From address. */
  envelopeFrom?: string;
  /** A mailto: unsubscribe address, listed after the https URL (RFC 8058 wants https first). */
  unsubscribeMailto?: string;
}

/**
 * Nodemailer options for one email. Lead data only ever reaches text fields: no attachments, no
 * file or URL access, no prepared headers (header injection and local file disclosure).
 */
export function buildMailOptions(email: OutgoingEmail): Mail.Options {
  // A bug, not bad input: marketing mail without one-click unsubscribe must never leave.
  if (email.rendered.category === 'marketing' && !email.unsubscribeUrl) throw new Error(`marketing email ${email.messageId} has no unsubscribe URL`);
  const headers: Record<string, string> = { ...(email.headers ?? {}) };
  if (email.unsubscribeUrl) {
    // RFC 8058 one-click unsubscribe; the value must be exactly this.
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  if (email.rendered.category === 'marketing') headers['Precedence'] = 'bulk';
  return {
    from: email.from,
    to: email.to,
    subject: email.rendered.subject,
    html: email.rendered.html,
    text: email.rendered.text,
    messageId: email.messageId,
    // One field with both URIs (RFC 2369): Nodemailer writes a flat array as two separate fields.
    list: email.unsubscribeUrl
      ? { unsubscribe: email.unsubscribeMailto ? [[email.unsubscribeUrl, `mailto:${email.unsubscribeMailto}?subject=unsubscribe`]] : email.unsubscribeUrl }
      : undefined,
    envelope: email.envelopeFrom ? { from: email.envelopeFrom, to: email.to } : undefined,
    headers,
    disableFileAccess: true,
    disableUrlAccess: true,
  };
}

/**
 * The headers DKIM signs. RFC 8058 requires List-Unsubscribe and List-Unsubscribe-Post among
 * them; listed explicitly so that no library default can drop them.
 */
export const DKIM_HEADER_FIELDS = [
  'from',
  'sender',
  'reply-to',
  'subject',
  'date',
  'message-id',
  'to',
  'cc',
  'mime-version',
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'in-reply-to',
  'references',
  'list-id',
  'list-help',
  'list-unsubscribe',
  'list-unsubscribe-post',
  'list-subscribe',
  'list-post',
  'list-owner',
  'list-archive',
].join(':');
