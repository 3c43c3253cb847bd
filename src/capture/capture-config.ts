import Joi from 'joi';

/*
 * The environment variables of website capture (the snippet and its collect endpoint), spread
 * into the one environment schema of platform/config.ts, and read back into `Config.capture`.
 */

export interface Rate {
  count: number;
  windowMs: number;
}

export interface CaptureConfig {
  /** BATON_SITE_KEY (publishable); null until resolveSecrets fills it (generated in development). */
  siteKey: string | null;
  /** Origins whose pages may send events, exactly as a browser sends them (`https://www.example.com`). */
  siteOrigins: string[];
  visitorRate: Rate;
  ipRate: Rate;
  /** Which privacy signals turn collection off for a visitor. */
  privacySignals: { gpc: boolean; dnt: boolean };
  /** Anonymous visitors unseen for this long are deleted with their events. */
  visitorRetentionMs: number;
}

const UNITS_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const RATE = /^([1-9]\d{0,6})\/([1-9]\d{0,3})([smhd])$/;
const DURATION = /^([1-9]\d{0,4})([smhd])$/;

const rate = (fallback: string, what: string) =>
  Joi.string()
    .pattern(RATE)
    .default(fallback)
    .messages({ 'string.pattern.base': `{{#label}} must be COUNT/DURATION, e.g. ${fallback} (at most that many events ${what})` });

const origins = Joi.string()
  .custom((value: string, helpers) => {
    for (const entry of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
      const parsed = URL.canParse(entry) ? new URL(entry) : null;
      // An origin has no path: "https://www.example.com/" is a common paste, "…/blog" a mistake.
      if (!parsed || !/^https?:$/.test(parsed.protocol) || parsed.origin !== entry.replace(/\/$/, '')) return helpers.error('origins.invalid', { entry });
    }
    return value;
  })
  .messages({
    'origins.invalid': 'BATON_SITE_ORIGINS: "{{#entry}}" is not an origin such as https://www.example.com (scheme, host and port only; comma-separated)',
  });

export const CAPTURE_ENVIRONMENT = {
  BATON_SITE_KEY: Joi.string()
    .pattern(/^[A-Za-z0-9_-]{8,128}$/)
    .messages({ 'string.pattern.base': '{{#label}} must be 8 to 128 letters, digits, _ or - (it goes in data-site="…" on your pages)' })
    .description('publishable key of the website snippet (data-site); generated in development; unset in production: no snippet'),
  BATON_SITE_ORIGINS: origins.description('comma-separated origins of the pages that include the snippet, e.g. https://www.example.com; other origins get 403'),
  BATON_COLLECT_VISITOR_RATE: rate('60/1m', 'per visitor').description('snippet events accepted per visitor; more get 429'),
  BATON_COLLECT_IP_RATE: rate('600/1m', 'per IP address').description('snippet events accepted per IP address; more get 429'),
  BATON_PRIVACY_SIGNALS: Joi.string()
    .valid('gpc', 'gpc,dnt', 'none')
    .default('gpc')
    .description('privacy signals that turn the snippet off for a visitor: gpc (Global Privacy Control, default), gpc,dnt (also Do Not Track), none'),
  BATON_VISITOR_RETENTION: Joi.string()
    .pattern(DURATION)
    .default('30d')
    .messages({ 'string.pattern.base': '{{#label}} must be a duration such as 30d or 12h' })
    .description('how long an anonymous visitor that never identified is kept after it was last seen'),
};

/** Reads the validated environment (defaults applied) into `Config.capture`. */
export function captureConfig(value: Record<string, unknown>): CaptureConfig {
  const text = (key: string) => (typeof value[key] === 'string' ? value[key] : '');
  const signals = text('BATON_PRIVACY_SIGNALS');
  return {
    siteKey: text('BATON_SITE_KEY') || null,
    siteOrigins: text('BATON_SITE_ORIGINS')
      .split(',')
      .map((part) => part.trim().replace(/\/$/, ''))
      .filter(Boolean),
    visitorRate: parseRate(text('BATON_COLLECT_VISITOR_RATE') || '60/1m'),
    ipRate: parseRate(text('BATON_COLLECT_IP_RATE') || '600/1m'),
    privacySignals: { gpc: signals !== 'none', dnt: signals === 'gpc,dnt' },
    visitorRetentionMs: parseDuration(text('BATON_VISITOR_RETENTION') || '30d'),
  };
}

export function parseRate(text: string): Rate {
  const match = RATE.exec(text);
  if (!match) throw new Error(`not a rate: ${text}`);
  return { count: Number(match[1]), windowMs: Number(match[2]) * (UNITS_MS[match[3] ?? 's'] ?? 1000) };
}

function parseDuration(text: string): number {
  const match = DURATION.exec(text);
  if (!match) throw new Error(`not a duration: ${text}`);
  return Number(match[1]) * (UNITS_MS[match[2] ?? 's'] ?? 1000);
}
