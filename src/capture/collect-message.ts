import { RESERVED_EVENT_TYPE } from '../events/event.js';
import type { FieldProblem } from '../platform/errors.js';

/*
 * What the snippet posts to /collect, one message per request (sendBeacon sends one body), checked
 * by hand rather than with Joi because this is a hot public path: every problem names its field.
 *
 *   { "site": "site_…", "visitor": "…", "type": "page_view", "properties": { "path": "/pricing" }, "token"?: "…" }
 *   { "site": "site_…", "visitor": "…", "identify": { "email": "ada@example.com", "firstName": "Ada" }, "token"?: "…" }
 */

export const MAX_COLLECT_BODY_BYTES = 8192;
const MAX_PROPERTIES = 50;
const MAX_STRING = 1000;
const VISITOR_ID = /^[A-Za-z0-9_-]{16,64}$/;

/** Whether `value` has the shape of the snippet's visitor id (a form may carry one). */
export const isVisitorId = (value: string): boolean => VISITOR_ID.test(value);
const EVENT_TYPE = /^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/;
const EMAIL = /^[^\s@<>()[\],;:"]{1,64}@[^\s@<>()[\],;:"]+\.[^\s@<>()[\],;:".]{2,}$/;
/** Lead fields a public page may give; anything else (tags, consent, unsubscribed) only the API sets. */
export const IDENTIFY_FIELDS = ['email', 'firstName', 'lastName', 'company', 'title', 'phone'] as const;
export type IdentifyTraits = { email: string } & Partial<Record<Exclude<(typeof IDENTIFY_FIELDS)[number], 'email'>, string>>;

export type CollectMessage =
  | { kind: 'event'; site: string; visitor: string; token: string | null; type: string; properties: Record<string, string | number | boolean | null> }
  | { kind: 'identify'; site: string; visitor: string; token: string | null; traits: IdentifyTraits };

export type ParsedCollect = { ok: true; message: CollectMessage } | { ok: false; problems: FieldProblem[] };

const problem = (field: string, message: string): FieldProblem => ({ field, location: 'body', message: `${field} ${message}` });

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function parseCollectMessage(body: unknown): ParsedCollect {
  if (!isRecord(body)) return { ok: false, problems: [problem('body', 'must be a JSON object')] };
  const problems: FieldProblem[] = [];
  for (const key of Object.keys(body)) {
    if (!['site', 'visitor', 'type', 'properties', 'identify', 'token'].includes(key)) problems.push(problem(key, 'is not allowed'));
  }
  const { site, visitor, type, properties, identify, token } = body;
  if (typeof site !== 'string' || site.length === 0 || site.length > 128) problems.push(problem('site', 'must be the site key of data-site'));
  if (typeof visitor !== 'string' || !VISITOR_ID.test(visitor)) problems.push(problem('visitor', 'must be 16 to 64 letters, digits, _ or -'));
  if (token !== undefined && (typeof token !== 'string' || token.length > 512)) problems.push(problem('token', 'must be a string of at most 512 characters'));
  if ((type === undefined) === (identify === undefined)) problems.push(problem('type', 'or identify must be given, not both'));

  let message: CollectMessage | null = null;
  const base = { site: String(site), visitor: String(visitor), token: typeof token === 'string' ? token : null };
  if (type !== undefined) {
    if (typeof type !== 'string' || !EVENT_TYPE.test(type))
      problems.push(problem('type', 'must start with a letter and hold only letters, digits and _ . : - (at most 100 characters)'));
    else if (RESERVED_EVENT_TYPE.test(type))
      problems.push(problem('type', `${type} is recorded by Baton itself; types starting with email_, handoff_ or baton_, and unsubscribed, are reserved`));
    else if (FORM_EVENT_TYPES.has(type))
      problems.push(
        problem('type', `${type} is recorded by Baton's forms (with their bot defences and consent), not by the snippet; use another name for your own events`),
      );
    const checked = checkProperties(properties, problems);
    if (checked) message = { kind: 'event', ...base, type: String(type), properties: checked };
  } else if (identify !== undefined) {
    if (properties !== undefined) problems.push(problem('properties', 'is not allowed with identify'));
    const traits = checkTraits(identify, problems);
    if (traits) message = { kind: 'identify', ...base, traits };
  }
  return problems.length > 0 || !message ? { ok: false, problems } : { ok: true, message };
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// Events Baton's forms record: the snippet cannot fake them (a demo request hands a lead to sales).
const FORM_EVENT_TYPES = new Set(['form_submit', 'opt_in_confirmed', 'preferences_changed']);

/** Text PostgreSQL can store in jsonb: no NUL, no unpaired surrogate. */
function storable(text: string): boolean {
  return !text.includes('\u0000') && !LONE_SURROGATE.test(text);
}

function checkProperties(value: unknown, problems: FieldProblem[]): Record<string, string | number | boolean | null> | null {
  if (value === undefined) return {};
  if (!isRecord(value)) {
    problems.push(problem('properties', 'must be an object'));
    return null;
  }
  const entries = Object.entries(value);
  if (entries.length > MAX_PROPERTIES) problems.push(problem('properties', `must have at most ${MAX_PROPERTIES} keys`));
  const checked: Record<string, string | number | boolean | null> = {};
  for (const [key, item] of entries.slice(0, MAX_PROPERTIES)) {
    if (key.length === 0 || key.length > 100) problems.push(problem('properties', 'keys must be 1 to 100 characters'));
    else if (!storable(key) || (typeof item === 'string' && !storable(item)))
      problems.push(problem(`properties.${key}`, 'must not hold a NUL character or a lone surrogate (PostgreSQL cannot store them)'));
    else if (typeof item === 'string' && item.length <= MAX_STRING) checked[key] = item;
    else if ((typeof item === 'number' && Number.isFinite(item)) || typeof item === 'boolean' || item === null) checked[key] = item;
    else problems.push(problem(`properties.${key}`, `must be a string of at most ${MAX_STRING} characters, a number, true, false or null`));
  }
  return checked;
}

function checkTraits(value: unknown, problems: FieldProblem[]): IdentifyTraits | null {
  if (!isRecord(value)) {
    problems.push(problem('identify', 'must be an object with at least an email'));
    return null;
  }
  const traits: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (!(IDENTIFY_FIELDS as readonly string[]).includes(key)) problems.push(problem(`identify.${key}`, `is not allowed (${IDENTIFY_FIELDS.join(', ')})`));
    else if (item === null || item === undefined || item === '') continue;
    else if (typeof item !== 'string' || item.trim().length > 200) problems.push(problem(`identify.${key}`, 'must be a string of at most 200 characters'));
    else if (!storable(item)) problems.push(problem(`identify.${key}`, 'must not hold a NUL character or a lone surrogate'));
    else traits[key] = item.trim();
  }
  const email = traits.email;
  if (!email || email.length > 254 || !EMAIL.test(email)) {
    problems.push(problem('identify.email', 'must be an email address'));
    return null;
  }
  return { ...traits, email };
}
