import path from 'node:path';
import Joi from 'joi';
import { readDkimPrivateKey } from '../identity/dkim-key.js';
import { senderAddress } from '../identity/sender-address.js';
import { senderIdentityFindings } from '../identity/sender-identity.js';
import { CAPTURE_ENVIRONMENT, captureConfig, type CaptureConfig } from '../capture/capture-config.js';
import { FEEDBACK_ENVIRONMENT, feedbackConfigOf, type FeedbackConfig } from '../feedback/feedback-config.js';

/*
 * The one place Baton reads its environment. Every variable is described and defaulted here, the
 * whole environment is validated at boot, and every problem is reported at once, each naming its
 * variable. Nothing else in src/ touches process.env.
 */

export type Role = 'all' | 'api' | 'worker';
export type NodeEnv = 'development' | 'production' | 'test';

export interface Config {
  nodeEnv: NodeEnv;
  role: Role;
  host: string;
  port: number;
  publicUrl: string;
  /** A PostgreSQL server; null means the embedded PGlite database in dataDir. */
  databaseUrl: string | null;
  databasePoolSize: number;
  databaseConnectTimeoutMs: number;
  /** Clicks and opens kept in memory while the database is away. */
  trackingBufferMax: number;
  dataDir: string;
  /** Null until ensureSecrets fills them (generated in development, required in production). */
  apiKey: string | null;
  secret: string | null;
  /** BATON_SECRET_PREVIOUS: still verifies links during a rotation. */
  previousSecret: string | null;
  /** Null means the embedded SMTP sink, which keeps every message for GET /api/dev/mail. */
  smtpUrl: string | null;
  mailFrom: string;
  company: { name: string; postalAddress: string };
  dkim: { domainName: string; keySelector: string; privateKey: string } | null;
  templatesDir: string;
  sequencesDir: string;
  /** The scoring file; a missing default file means no scoring (an explicitly set one must exist). */
  scoringFile: { path: string; explicit: boolean };
  /** The sales team file, needed when the scoring file hands leads to sales. */
  salesTeamFile: { path: string; explicit: boolean };
  /** Endpoints told of lifecycle events; a missing default file means none. */
  webhooksFile: { path: string; explicit: boolean };
  /** forms/*.yaml: the public forms (src/forms); a missing default directory means no forms. */
  formsDir: { path: string; explicit: boolean };
  logLevel: string;
  shutdownTimeoutMs: number;
  /** At most `count` marketing emails per lead in any `windowMs`, across all sequences; null: no cap. */
  frequencyCap: { count: number; windowMs: number } | null;
  webhooks: {
    /** Signing secrets (whsec_…) by name; '' is BATON_WEBHOOK_SECRET, the default. */
    secrets: Record<string, string>;
    /** Receivers told of every handoff (BATON_HANDOFF_WEBHOOKS), signed with BATON_WEBHOOK_SECRET. */
    handoff: Array<{ url: string; format: 'standard' | 'slack' }>;
    /** Lets webhooks reach private, loopback and link-local addresses (off: SSRF protection). */
    allowPrivate: boolean;
  };
  /** The website snippet and its collect endpoint (src/capture). */
  capture: CaptureConfig;
  /** Bounces, complaints and their policy (src/feedback). */
  feedback: FeedbackConfig;
}

/** Values that must never reach a log line. */
export const SECRET_CONFIG_KEYS = ['apiKey', 'secret', 'databaseUrl', 'smtpUrl', 'dkim', 'webhooks', 'feedback'] as const;

const postgresUrl = Joi.string().uri({ scheme: ['postgres', 'postgresql'] });
const webhookSecret = Joi.string()
  .pattern(/^whsec_[A-Za-z0-9+/]{32,}={0,2}$/)
  .messages({ 'string.pattern.base': '{{#label}} must be whsec_ followed by at least 24 random bytes in base64 (e.g. "whsec_$(openssl rand -base64 32)")' });
const DURATION_UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * The environment once validated: defaults applied, numbers and booleans converted. Also holds
 * the BATON_WEBHOOK_SECRET_<NAME> variables (a pattern) and, unchecked, everything else set.
 * Typing the schema with it makes a key added to one and not the other a compile error.
 */
type ValidatedEnvironment = {
  NODE_ENV: NodeEnv;
  BATON_ROLE: Role;
  HOST: string;
  PORT: number;
  BATON_PUBLIC_URL?: string;
  DATABASE_URL?: string;
  DATABASE_POOL_SIZE: number;
  DATABASE_CONNECT_TIMEOUT_MS: number;
  BATON_TRACKING_BUFFER_MAX: number;
  BATON_DATA_DIR: string;
  BATON_API_KEY?: string;
  BATON_SECRET?: string;
  BATON_SECRET_PREVIOUS?: string;
  SMTP_URL?: string;
  BATON_MAIL_FROM: string;
  BATON_COMPANY_NAME: string;
  BATON_POSTAL_ADDRESS: string;
  DKIM_DOMAIN?: string;
  DKIM_SELECTOR?: string;
  DKIM_PRIVATE_KEY?: string;
  BATON_TEMPLATES_DIR: string;
  BATON_SEQUENCES_DIR: string;
  BATON_FORMS_DIR?: string;
  BATON_SCORING_FILE?: string;
  BATON_SALES_TEAM_FILE?: string;
  BATON_WEBHOOKS_FILE?: string;
  BATON_HANDOFF_WEBHOOKS?: string;
  LOG_LEVEL: string;
  SHUTDOWN_TIMEOUT_MS: number;
  BATON_FREQUENCY_CAP: string;
  BATON_WEBHOOK_SECRET?: string;
  BATON_WEBHOOK_ALLOW_PRIVATE: boolean;
};

const environmentSchema = Joi.object<ValidatedEnvironment, true>({
  NODE_ENV: Joi.string()
    .valid('development', 'production', 'test')
    .default('development')
    .description('development (default) generates missing secrets; production requires them'),
  BATON_ROLE: Joi.string().valid('all', 'api', 'worker').default('all').description('all: API and worker in one process; api or worker for separate processes'),
  HOST: Joi.string().hostname().default('127.0.0.1').description('interface the HTTP server binds to'),
  PORT: Joi.number().port().default(3000).description('HTTP port'),
  BATON_PUBLIC_URL: Joi.string()
    .uri({ scheme: ['http', 'https'] })
    .description('base URL leads and reps reach Baton at (links in emails); default http://localhost:PORT'),
  DATABASE_URL: postgresUrl.description('PostgreSQL server; unset means embedded PGlite in BATON_DATA_DIR'),
  DATABASE_POOL_SIZE: Joi.number().integer().min(2).max(100).default(10).description('connections per process'),
  DATABASE_CONNECT_TIMEOUT_MS: Joi.number()
    .integer()
    .min(100)
    .max(120_000)
    .default(5000)
    .description('how long opening a database connection (or waiting for a free one) may take before the request gets 503'),
  BATON_TRACKING_BUFFER_MAX: Joi.number()
    .integer()
    .min(1000)
    .max(10_000_000)
    .default(50_000)
    .description('clicks and opens kept in memory while the database is away; later ones still redirect but are not recorded (counted at /health)'),
  BATON_DATA_DIR: Joi.string().default('./.baton').description('embedded database, generated secrets'),
  BATON_API_KEY: Joi.string()
    .min(24)
    .max(512)
    .pattern(/^[\x21-\x7e]+$/, 'printable ASCII without spaces')
    .description('bearer token for /api/*'),
  BATON_SECRET: Joi.string().min(32).max(512).description('signing key for tokens in links'),
  BATON_SECRET_PREVIOUS: Joi.string()
    .min(32)
    .max(512)
    .description('during a rotation, the secret before BATON_SECRET: links it signed (in emails already sent) still work (docs/security.md)'),
  SMTP_URL: Joi.string()
    .uri({ scheme: ['smtp', 'smtps'] })
    .description('outgoing mail server; unset means the embedded sink'),
  BATON_MAIL_FROM: Joi.string()
    .max(300)
    .default('Baton <baton@localhost>')
    .custom((value: string, helpers) => (senderAddress(value) ? value : helpers.error('mailFrom.invalid')))
    .messages({ 'mailFrom.invalid': 'BATON_MAIL_FROM must be one address, e.g. "Acme <hello@acme.example>" or hello@acme.example' })
    .description('default From of marketing email; required in production'),
  BATON_COMPANY_NAME: Joi.string().max(200).default('Baton Demo Company').description('sender name shown in emails'),
  BATON_POSTAL_ADDRESS: Joi.string()
    .max(300)
    .default('1 Example Street, Springfield, USA')
    .description('postal address printed in every marketing email (CAN-SPAM)'),
  DKIM_DOMAIN: Joi.string().hostname().description('DKIM signing domain; set with DKIM_SELECTOR and DKIM_PRIVATE_KEY'),
  DKIM_SELECTOR: Joi.string().max(63).description('DKIM selector'),
  // Read once here: a key nodemailer cannot sign with would send every email unsigned, silently.
  DKIM_PRIVATE_KEY: Joi.string()
    .custom((value: string, helpers) => {
      const key = readDkimPrivateKey(value);
      return key.ok ? key.pem : helpers.error('dkimKey.invalid', { problem: key.problem });
    })
    .messages({ 'dkimKey.invalid': 'DKIM_PRIVATE_KEY {#problem}' })
    .description('DKIM private key (PEM; one line with \\n for line breaks accepted)'),
  BATON_TEMPLATES_DIR: Joi.string().default('./templates').description('MJML + Handlebars email templates'),
  BATON_SEQUENCES_DIR: Joi.string().default('./sequences').description('nurture sequence YAML files'),
  BATON_SCORING_FILE: Joi.string().description(
    'lead scoring rules and lifecycle (default: scoring.yaml beside the sequences directory; none there: no scoring)',
  ),
  BATON_SALES_TEAM_FILE: Joi.string().description('sales reps, territories and SLA for handoffs (default: sales-team.yaml beside the sequences directory)'),
  BATON_WEBHOOKS_FILE: Joi.string().description(
    'endpoints told of lead, handoff and enrollment events (default: webhooks.yaml beside the sequences directory; none there: no lifecycle webhooks)',
  ),
  BATON_FORMS_DIR: Joi.string().description('public forms, one YAML file each (default: forms/ beside the sequences directory; none there: no forms)'),
  BATON_HANDOFF_WEBHOOKS: Joi.string()
    .custom((value: string, helpers) => {
      for (const entry of value
        .split(',')
        .map((part) => part.trim())
        .filter(Boolean)) {
        const url = entry.startsWith('slack:') ? entry.slice('slack:'.length) : entry;
        if (!/^https?:\/\/[^\s]+$/.test(url) || !URL.canParse(url)) return helpers.error('handoffWebhooks.invalid', { entry });
      }
      return value;
    })
    .messages({ 'handoffWebhooks.invalid': 'BATON_HANDOFF_WEBHOOKS: "{{#entry}}" is not an http(s) URL (comma-separated; prefix slack: for a Slack payload)' })
    .description('comma-separated URLs told of every handoff; prefix slack: for a Slack-compatible payload'),
  LOG_LEVEL: Joi.string().valid('fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent').default('info'),
  SHUTDOWN_TIMEOUT_MS: Joi.number().integer().min(0).max(600_000).default(15_000).description('how long SIGTERM waits for in-flight work'),
  BATON_FREQUENCY_CAP: Joi.string()
    .pattern(/^(off|[1-9]\d{0,2}\/[1-9]\d{0,3}[smhd])$/)
    .default('off')
    .messages({ 'string.pattern.base': '{{#label}} must be off or COUNT/DURATION, e.g. 1/24h (at most one marketing email per lead in any 24 hours)' })
    .description('per-lead cap on marketing email across all sequences, e.g. 1/24h; off by default'),
  BATON_WEBHOOK_SECRET: webhookSecret.description('default signing secret of webhook steps (whsec_ + base64)'),
  BATON_WEBHOOK_ALLOW_PRIVATE: Joi.boolean().default(false).description('let webhooks reach private, loopback and link-local addresses (SSRF protection off)'),
  ...CAPTURE_ENVIRONMENT,
  ...FEEDBACK_ENVIRONMENT,
})
  .pattern(/^BATON_WEBHOOK_SECRET_[A-Z0-9_]{1,32}$/, webhookSecret)
  .when(Joi.object({ NODE_ENV: Joi.valid('production').required() }).unknown(), {
    then: Joi.object({
      BATON_API_KEY: Joi.required(),
      BATON_SECRET: Joi.required(),
      // Without a mail server, mail goes to the embedded sink and is counted as sent (issue 16).
      SMTP_URL: Joi.required().messages({
        'any.required':
          'SMTP_URL is required in production: without it every email, rep notifications included, would go to the embedded development sink and never leave the machine',
      }),
      BATON_POSTAL_ADDRESS: Joi.required().empty(Joi.any().valid('1 Example Street, Springfield, USA')),
      // baton@localhost fails SPF, DKIM and DMARC everywhere.
      BATON_MAIL_FROM: Joi.required().messages({
        'any.required':
          'BATON_MAIL_FROM is required in production: the From address of your emails, at a domain whose SPF, DKIM and DMARC you control (npx baton doctor checks them)',
      }),
      // RFC 8058: the one-click unsubscribe URL in List-Unsubscribe must be https.
      BATON_PUBLIC_URL: Joi.string()
        .uri({ scheme: ['https'] })
        .required(),
      // Webhooks carry lead data: plain http is for a local receiver while developing.
      BATON_HANDOFF_WEBHOOKS: Joi.string()
        .pattern(/^\s*(slack:)?https:\/\/[^,\s]+(\s*,\s*(slack:)?https:\/\/[^,\s]+)*\s*$/)
        .messages({ 'string.pattern.base': 'BATON_HANDOFF_WEBHOOKS must list https URLs in production' }),
    }),
  })
  .and('DKIM_DOMAIN', 'DKIM_SELECTOR', 'DKIM_PRIVATE_KEY')
  .messages({ 'object.and': 'DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY go together: {{#presentWithLabels}} set without {{#missingWithLabels}}' })
  .when(Joi.object({ BATON_ROLE: Joi.valid('api', 'worker').required() }).unknown(), {
    // The embedded database lives inside one process; separate roles must share a server.
    then: Joi.object({
      DATABASE_URL: Joi.required().messages({
        'any.required': 'DATABASE_URL is required when BATON_ROLE is api or worker: the embedded database cannot be shared between processes',
      }),
    }),
  })
  .unknown(true);

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

type Environment = Record<string, string | undefined>;

/** Validates the environment; throws a ConfigError that lists every problem. */
export function loadConfig(environment: Environment, overrides: Partial<Config> = {}): Config {
  const present = Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== undefined && value !== ''));
  // Not destructured: Joi types a failed result's value `any`; narrowed on `error`, it is typed.
  const result = environmentSchema.validate(present, { abortEarly: false, convert: true, errors: { wrap: { label: false } } });
  if (result.error) throw new ConfigError(result.error.details.map((detail) => detail.message));
  const { value } = result;
  // DMARC alignment refuses production; in development startBaton logs it as a warning.
  const identity = senderIdentityFindings({ mailFrom: value.BATON_MAIL_FROM, dkimDomain: value.DKIM_DOMAIN ?? null });
  if (value.NODE_ENV === 'production' && identity.length > 0) throw new ConfigError(identity);
  const port = value.PORT;
  const config: Config = {
    nodeEnv: value.NODE_ENV,
    role: value.BATON_ROLE,
    host: value.HOST,
    port,
    publicUrl: (value.BATON_PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    databaseUrl: value.DATABASE_URL ?? null,
    databasePoolSize: value.DATABASE_POOL_SIZE,
    databaseConnectTimeoutMs: value.DATABASE_CONNECT_TIMEOUT_MS,
    trackingBufferMax: value.BATON_TRACKING_BUFFER_MAX,
    dataDir: path.resolve(value.BATON_DATA_DIR),
    apiKey: value.BATON_API_KEY ?? null,
    secret: value.BATON_SECRET ?? null,
    previousSecret: value.BATON_SECRET_PREVIOUS ?? null,
    smtpUrl: value.SMTP_URL ?? null,
    mailFrom: value.BATON_MAIL_FROM,
    company: { name: value.BATON_COMPANY_NAME, postalAddress: value.BATON_POSTAL_ADDRESS },
    // The schema's .and() makes these three all set or none.
    dkim:
      value.DKIM_DOMAIN && value.DKIM_SELECTOR && value.DKIM_PRIVATE_KEY
        ? { domainName: value.DKIM_DOMAIN, keySelector: value.DKIM_SELECTOR, privateKey: value.DKIM_PRIVATE_KEY }
        : null,
    templatesDir: path.resolve(value.BATON_TEMPLATES_DIR),
    sequencesDir: path.resolve(value.BATON_SEQUENCES_DIR),
    // Beside the sequences directory by default, so a sequences directory elsewhere brings its own.
    scoringFile: besideSequences(value.BATON_SCORING_FILE, value.BATON_SEQUENCES_DIR, 'scoring.yaml'),
    salesTeamFile: besideSequences(value.BATON_SALES_TEAM_FILE, value.BATON_SEQUENCES_DIR, 'sales-team.yaml'),
    webhooksFile: besideSequences(value.BATON_WEBHOOKS_FILE, value.BATON_SEQUENCES_DIR, 'webhooks.yaml'),
    formsDir: besideSequences(value.BATON_FORMS_DIR, value.BATON_SEQUENCES_DIR, 'forms'),
    logLevel: value.LOG_LEVEL,
    shutdownTimeoutMs: value.SHUTDOWN_TIMEOUT_MS,
    frequencyCap: parseFrequencyCap(value.BATON_FREQUENCY_CAP),
    webhooks: { secrets: webhookSecrets(value), handoff: handoffWebhooks(value.BATON_HANDOFF_WEBHOOKS), allowPrivate: value.BATON_WEBHOOK_ALLOW_PRIVATE },
    capture: captureConfig(value),
    feedback: feedbackConfigOf(value),
  };
  return { ...config, ...overrides };
}

function parseFrequencyCap(text: string): Config['frequencyCap'] {
  const match = /^(\d+)\/(\d+)([smhd])$/.exec(text);
  if (!match) return null;
  return { count: Number(match[1]), windowMs: Number(match[2]) * (DURATION_UNITS_MS[match[3] ?? 's'] ?? 1000) };
}

function besideSequences(given: string | undefined, sequencesDir: string, name: string): { path: string; explicit: boolean } {
  if (given !== undefined) return { path: path.resolve(given), explicit: true };
  return { path: path.join(path.dirname(path.resolve(sequencesDir)), name), explicit: false };
}

function handoffWebhooks(text: string | undefined): Config['webhooks']['handoff'] {
  return (text ?? '')
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((entry) =>
      entry.startsWith('slack:') ? { url: entry.slice('slack:'.length), format: 'slack' as const } : { url: entry, format: 'standard' as const },
    );
}

/** BATON_WEBHOOK_SECRET is the default ''; BATON_WEBHOOK_SECRET_CRM is the secret a step names `crm`. */
function webhookSecrets(value: Record<string, unknown>): Record<string, string> {
  const secrets: Record<string, string> = {};
  for (const [key, secret] of Object.entries(value)) {
    if (typeof secret !== 'string') continue;
    if (key === 'BATON_WEBHOOK_SECRET') secrets[''] = secret;
    else if (key.startsWith('BATON_WEBHOOK_SECRET_')) secrets[key.slice('BATON_WEBHOOK_SECRET_'.length).toLowerCase()] = secret;
  }
  return secrets;
}

/** The config with secrets replaced, for the start-up log line. */
export function redactConfig(config: Config): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config };
  for (const key of SECRET_CONFIG_KEYS) if (copy[key]) copy[key] = '[redacted]';
  return copy;
}
