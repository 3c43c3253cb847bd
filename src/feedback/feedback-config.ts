import Joi from 'joi';
import { DOMAIN_LIMITS_PATTERN, parseDomainLimits, type DomainLimit } from './domain-limits.js';

/*
 * The environment keys of delivery feedback, spread into the one schema in platform/config.ts
 * (validated with everything else at boot), and the value they become there.
 */

export interface FeedbackConfig {
  /** BATON_BOUNCE_DOMAIN: VERP envelope senders and the mailto: unsubscribe; null keeps From as envelope sender. */
  bounceDomain: string | null;
  /** The inbound listener, when BATON_INBOUND_SMTP_PORT is set. */
  inbound: { host: string; port: number; maxBytes: number } | null;
  /** Waits before each retry of a soft-bounced or deferred email; after the last, the send fails. */
  softBounceRetriesMs: number[];
  /** N consecutive soft-bounced sends suppress the address; 0 never. */
  softBounceLimit: number;
  esp: EspWebhookConfig;
  /** BATON_DOMAIN_LIMITS: emails per window per recipient domain, across workers. */
  domainLimits: Map<string, DomainLimit>;
}

/** ESP webhooks at /webhooks/esp/<provider>; each is on only when its secret is set. */
export interface EspWebhookConfig {
  ses: { topicArns: string[]; certificateFile: string | null } | null;
  /** "user:password" of the basic auth put in Postmark's webhook URL. */
  postmarkCredentials: string | null;
  /** SendGrid's signed event webhook verification key (base64 DER, or PEM). */
  sendgridPublicKey: string | null;
  mailgunSigningKey: string | null;
}

const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_LIST = /^\s*\d{1,4}[smhd](\s*,\s*\d{1,4}[smhd]){0,19}\s*$/;

export const FEEDBACK_ENVIRONMENT = {
  BATON_BOUNCE_DOMAIN: Joi.string()
    .hostname()
    .description('domain of VERP bounce addresses (bounce+<token>@DOMAIN) and of the mailto: unsubscribe; its MX must reach the inbound listener'),
  BATON_INBOUND_SMTP_PORT: Joi.number()
    .port()
    .description('port of the inbound SMTP listener for bounces, complaints and mailto: unsubscribes (needs BATON_BOUNCE_DOMAIN); unset: no listener'),
  BATON_INBOUND_SMTP_HOST: Joi.string().hostname().default('127.0.0.1').description('interface the inbound SMTP listener binds to'),
  BATON_INBOUND_MAX_BYTES: Joi.number()
    .integer()
    .min(10_000)
    .max(50_000_000)
    .default(2_000_000)
    .description('largest message the inbound listener accepts (bigger ones get 552 5.3.4)'),
  BATON_SOFT_BOUNCE_RETRIES: Joi.string()
    .pattern(DURATION_LIST)
    .default('15m,1h,4h')
    .messages({ 'string.pattern.base': '{{#label}} must be a comma-separated list of durations, e.g. 15m,1h,4h' })
    .description('waits before retrying a soft-bounced or deferred email; after the last the send is failed'),
  BATON_SOFT_BOUNCE_LIMIT: Joi.number()
    .integer()
    .min(0)
    .max(100)
    .default(3)
    .description('this many consecutive soft-bounced sends suppress the address (0: never)'),
  BATON_DOMAIN_LIMITS: Joi.string()
    .pattern(DOMAIN_LIMITS_PATTERN)
    .messages({ 'string.pattern.base': '{{#label}} must list DOMAIN:COUNT/s or DOMAIN:COUNT/m, comma-separated, e.g. gmail.com:20/s,yahoo.com:600/m' })
    .description('sending limits per recipient domain, shared by all workers, e.g. gmail.com:20/s (cut while the domain answers 421 / 4.7.x)'),
  BATON_SES_SNS_TOPIC_ARNS: Joi.string()
    .pattern(/^\s*arn:aws[a-z-]*:sns:[^,\s]+(\s*,\s*arn:aws[a-z-]*:sns:[^,\s]+)*\s*$/)
    .messages({ 'string.pattern.base': '{{#label}} must list SNS topic ARNs (arn:aws:sns:REGION:ACCOUNT:TOPIC), comma-separated' })
    .description('turns on /webhooks/esp/ses: the SNS topics of your SES notifications (others are refused: any AWS account can sign SNS messages)'),
  BATON_SES_SNS_CERTIFICATE_FILE: Joi.string().description(
    'PEM certificate to verify SNS signatures with instead of fetching SigningCertURL (offline installs, tests)',
  ),
  BATON_POSTMARK_WEBHOOK_AUTH: Joi.string()
    .pattern(/^[^:\s]+:\S{12,}$/)
    .messages({ 'string.pattern.base': '{{#label}} must be user:password (password at least 12 characters), as put in the Postmark webhook URL' })
    .description('turns on /webhooks/esp/postmark: the basic-auth user:password in the webhook URL you give Postmark'),
  BATON_SENDGRID_WEBHOOK_PUBLIC_KEY: Joi.string()
    .max(2000)
    .description('turns on /webhooks/esp/sendgrid: the signed event webhook verification key from SendGrid'),
  BATON_MAILGUN_WEBHOOK_SIGNING_KEY: Joi.string().min(16).max(200).description('turns on /webhooks/esp/mailgun: the HTTP webhook signing key from Mailgun'),
};

export function feedbackConfigOf(value: Record<string, unknown>): FeedbackConfig {
  const bounceDomain = typeof value.BATON_BOUNCE_DOMAIN === 'string' ? value.BATON_BOUNCE_DOMAIN.toLowerCase() : null;
  const port = typeof value.BATON_INBOUND_SMTP_PORT === 'number' ? value.BATON_INBOUND_SMTP_PORT : null;
  return {
    bounceDomain,
    inbound: port === null ? null : { host: String(value.BATON_INBOUND_SMTP_HOST), port, maxBytes: Number(value.BATON_INBOUND_MAX_BYTES) },
    softBounceRetriesMs: parseDurations(String(value.BATON_SOFT_BOUNCE_RETRIES ?? '15m,1h,4h')),
    softBounceLimit: Number(value.BATON_SOFT_BOUNCE_LIMIT ?? 3),
    domainLimits: parseDomainLimits(typeof value.BATON_DOMAIN_LIMITS === 'string' ? value.BATON_DOMAIN_LIMITS : ''),
    esp: {
      ses:
        typeof value.BATON_SES_SNS_TOPIC_ARNS === 'string'
          ? { topicArns: value.BATON_SES_SNS_TOPIC_ARNS.split(',').map((arn) => arn.trim()), certificateFile: optional(value.BATON_SES_SNS_CERTIFICATE_FILE) }
          : null,
      postmarkCredentials: optional(value.BATON_POSTMARK_WEBHOOK_AUTH),
      sendgridPublicKey: optional(value.BATON_SENDGRID_WEBHOOK_PUBLIC_KEY),
      mailgunSigningKey: optional(value.BATON_MAILGUN_WEBHOOK_SIGNING_KEY),
    },
  };
}

function parseDurations(text: string): number[] {
  return text.split(',').map((part) => {
    const match = /^(\d+)([smhd])$/.exec(part.trim());
    return match ? Number(match[1]) * (UNITS_MS[match[2] ?? 's'] ?? 1000) : 0;
  });
}

const optional = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);
