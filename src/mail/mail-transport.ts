import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import type { Config } from '../platform/config.js';
import { DKIM_HEADER_FIELDS } from './mail-message.js';
import { classifySmtpFailure, type SmtpFailure, type SmtpOutcome } from './smtp-replies.js';

export type SendResult = { outcome: SmtpOutcome; messageId: string | null; response: string };

export interface MailTransport {
  send(options: Mail.Options): Promise<SendResult>;
  close(): void;
}

// RFC 5321 suggests 10 minutes for the DATA phase; a short timeout there turns delivered mail
// into "unknown" far more often than needed.
const DATA_TIMEOUT_MS = 10 * 60 * 1000;

/** Pooled SMTP with the outcome classified, so callers switch on it instead of parsing errors. */
export function createMailTransport(smtpUrl: string, dkim: Config['dkim'], maxConnections = 5): MailTransport {
  const url = new URL(smtpUrl);
  const transporter = nodemailer.createTransport({
    pool: true,
    maxConnections,
    maxMessages: 1000,
    host: url.hostname,
    port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
    secure: url.protocol === 'smtps:',
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    // Loopback servers (the embedded sink, a local MTA) have no certificate to offer.
    ignoreTLS: isLoopback(url.hostname),
    // Credentials never cross the network in clear: a remote server must offer STARTTLS.
    requireTLS: Boolean(url.username) && !isLoopback(url.hostname) && url.protocol !== 'smtps:',
    socketTimeout: DATA_TIMEOUT_MS,
    dkim: dkim ? { ...dkim, headerFieldNames: DKIM_HEADER_FIELDS } : undefined,
  });
  return {
    async send(options) {
      try {
        const info = await transporter.sendMail(options);
        return { outcome: { kind: 'sent' }, messageId: info.messageId ?? null, response: String(info.response ?? '') };
      } catch (error) {
        const failure = toSmtpFailure(error);
        return { outcome: classifySmtpFailure(failure), messageId: null, response: failure.response ?? failure.code ?? String(error) };
      }
    },
    close() {
      transporter.close();
    },
  };
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}

function toSmtpFailure(error: unknown): SmtpFailure {
  if (typeof error !== 'object' || error === null) return { code: 'EUNKNOWN' };
  const record = error as Record<string, unknown>;
  return {
    responseCode: typeof record.responseCode === 'number' ? record.responseCode : undefined,
    response: typeof record.response === 'string' ? record.response : undefined,
    code: typeof record.code === 'string' ? record.code : undefined,
    command: typeof record.command === 'string' ? record.command : undefined,
    message: typeof record.message === 'string' ? record.message : undefined,
  };
}
