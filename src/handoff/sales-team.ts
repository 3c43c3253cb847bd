import Joi from 'joi';
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import { emailSchema } from '../leads/leads.schemas.js';
import { yamlProblems, yamlValue } from '../platform/yaml-value.js';
import { parseDuration } from '../sequences/duration.js';
import { formatPath } from '../platform/config-file-schemas.js';
import { canonicalTimeZone } from '../platform/time-zones.js';

/*
 * The sales team file (sales-team.yaml): who gets hot leads, by territory, and how long a rep has
 * to answer a handoff. Validated like a sequence file: structurally (Joi), then semantically
 * (unique ids and emails, the fallback owner exists, orders of durations, sizes and dates);
 * every problem at once, each with its line and path.
 *
 *   fallback_owner: dana
 *   sla: { remind_after: 4h, reassign_after: 8h }
 *   reps:
 *     - id: alex
 *       name: Alex Kim
 *       email: alex@example.com
 *       timezone: America/Los_Angeles
 *       capacity: 20
 *       out_of_office: [{ from: 2026-12-20, until: 2027-01-02 }]
 *       territories: [{ countries: [US, CA], regions: [west], company_size: { min: 50 } }]
 */

/** A null field matches any lead; a set field matches only leads that have the trait. */
export interface Territory {
  /** Upper-case ISO 3166-1 alpha-2 codes. */
  countries: string[] | null;
  /** Lower-case; compared to the lead trait `region`. */
  regions: string[] | null;
  /** Inclusive bounds on the lead trait `company_size`. */
  companySize: { min: number | null; max: number | null } | null;
  /** Lower-case; compared to the lead trait `industry`. */
  industries: string[] | null;
}

export interface Rep {
  id: string;
  name: string;
  email: string;
  slackWebhookUrl: string | null;
  /** IANA zone the dashboard shows this rep's times in; UTC when the file gives none. */
  timezone: string;
  /** At most this many open (pending or accepted) handoffs; null = no limit. */
  capacity: number | null;
  /** Half-open periods [from, until): a date-only `until` in the file becomes the next midnight UTC. */
  outOfOffice: Array<{ from: Date; until: Date }>;
  territories: Territory[];
}

export interface SalesTeam {
  reps: Rep[];
  fallbackOwner: string;
  sla: { remindAfterMs: number; reassignAfterMs: number } | null;
}

export interface SalesTeamProblem {
  line: number | null;
  path: string;
  message: string;
}

export type ParseSalesTeamResult = { ok: true; team: SalesTeam } | { ok: false; problems: SalesTeamProblem[] };

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d{1,3})?)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;
const DAY_MS = 86_400_000;

/** A date is a whole UTC day: as `from` it starts the day, as `until` it ends it (next midnight). */
function parseInstant(text: string, edge: 'from' | 'until'): Date | null {
  const day = DATE.test(text) ? text : DATE_TIME.exec(text)?.[1];
  // Date.parse rolls 2026-02-30 over to March 2nd; a round trip catches it.
  if (!day || new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) !== day) return null;
  const ms = Date.parse(DATE.test(text) ? `${text}T00:00:00Z` : text);
  if (Number.isNaN(ms)) return null;
  return new Date(DATE.test(text) && edge === 'until' ? ms + DAY_MS : ms);
}

const repId = Joi.string()
  .pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
  .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be lower-case letters, digits, - and _' });
const duration = Joi.string()
  .custom((value: string, helpers) => (parseDuration(value) === null ? helpers.error('duration.invalid') : value))
  .messages({ 'duration.invalid': '{{#label}} "{{#value}}" is not a duration such as 4h (s, m, h, d or w)' });
const instant = Joi.string()
  .custom((value: string, helpers) => (parseInstant(value, 'from') === null ? helpers.error('instant.invalid') : value))
  .messages({ 'instant.invalid': '{{#label}} "{{#value}}" is not a date such as 2026-12-20 or a date-time with a time zone such as 2026-12-20T09:00Z' });
const timeZone = Joi.string()
  .custom((value: string, helpers) => canonicalTimeZone(value) ?? helpers.error('zone.invalid'))
  .messages({ 'zone.invalid': '{{#label}} "{{#value}}" is not an IANA time zone such as Europe/Paris' });
const notEmpty = { 'array.min': '{{#label}} must not be empty: leave it out to match any value' };
const words = Joi.array().items(Joi.string().trim().min(1).max(100)).min(1).messages(notEmpty);
const size = Joi.number().integer().min(0);

/**
 * An object whose messages list its keys. Hazard: Joi's messages cascade to sub-schemas, so every
 * object sets its own rather than inheriting its parent's list.
 */
function keys<T = unknown>(schema: Record<string, Joi.Schema>): Joi.ObjectSchema<T> {
  const known = Object.keys(schema).join(', ');
  return Joi.object<T>(schema).messages({
    'object.base': `{{#label}} must be a map of ${known}`,
    'object.unknown': `{{#label}} is not a known key; expected one of: ${known}`,
  });
}

const territory = keys({
  countries: Joi.array()
    .items(
      Joi.string()
        .pattern(/^[A-Za-z]{2}$/)
        .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be a two-letter ISO 3166 country code such as FR' }),
    )
    .min(1)
    .messages(notEmpty),
  regions: words,
  company_size: keys({ min: size, max: size }).or('min', 'max').messages({ 'object.missing': '{{#label}} must give min, max or both' }),
  industries: words,
})
  .or('countries', 'regions', 'company_size', 'industries')
  .messages({ 'object.missing': '{{#label}} must constrain at least one of countries, regions, company_size or industries' });

const rep = keys({
  id: repId.required(),
  name: Joi.string().trim().min(1).max(200).required(),
  email: emailSchema.required().messages({ 'string.email': '{{#label}} "{{#value}}" is not an email address' }),
  slack_webhook_url: Joi.string()
    .uri({ scheme: ['https'] })
    .messages({ 'string.uriCustomScheme': '{{#label}} "{{#value}}" must be an https URL', 'string.uri': '{{#label}} "{{#value}}" must be an https URL' }),
  timezone: timeZone,
  capacity: Joi.number().integer().min(0).max(10_000),
  out_of_office: Joi.array()
    .items(keys({ from: instant.required(), until: instant.required() }))
    .default([]),
  territories: Joi.array().items(territory).default([]),
});

const salesTeamSchema = keys<RawTeam>({
  fallback_owner: Joi.string().required(),
  sla: keys({ remind_after: duration.required(), reassign_after: duration.required() }).allow(null).default(null),
  reps: Joi.array().items(rep).min(1).required().messages({ 'array.min': '{{#label}} must list at least one rep' }),
}).messages({ 'object.base': 'the file must be a map of fallback_owner, sla and reps' });

interface RawTerritory {
  countries?: string[];
  regions?: string[];
  company_size?: { min?: number; max?: number };
  industries?: string[];
}
interface RawRep {
  id: string;
  name: string;
  email: string;
  slack_webhook_url?: string;
  timezone?: string;
  capacity?: number;
  out_of_office: Array<{ from: string; until: string }>;
  territories: RawTerritory[];
}
interface RawTeam {
  fallback_owner: string;
  sla: { remind_after: string; reassign_after: string } | null;
  reps: RawRep[];
}

type LineOf = (segments: Array<string | number>) => number | null;

export function parseSalesTeam(text: string): ParseSalesTeamResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (document.errors.length > 0) return { ok: false, problems: yamlProblems(document.errors, text).map((problem) => ({ ...problem, path: '' })) };
  const lineOf: LineOf = (segments) => nodeLine(document, lineCounter, segments);
  const plain = yamlValue(document, lineCounter);
  if (!plain.ok) return { ok: false, problems: [{ line: plain.line, path: '', message: plain.message }] };
  const input = plain.value;
  const validated = salesTeamSchema.validate(input, { abortEarly: false, errors: { wrap: { label: false } } });
  const problems: SalesTeamProblem[] = (validated.error?.details ?? []).map((detail) => {
    const where = formatPath(detail.path);
    // Joi words messages with the path as label; strip it so the path is said once.
    const message = detail.message.startsWith(`${where} `) ? detail.message.slice(where.length + 1) : detail.message;
    return { line: lineOf(detail.path), path: where, message };
  });
  // The semantic checks read the raw input, so they also run when the structure has problems.
  problems.push(...checkTeam(input, lineOf));
  if (problems.length > 0 || validated.error) return { ok: false, problems: sortByLine(problems) };
  return { ok: true, team: toSalesTeam(validated.value) };
}

function toSalesTeam(raw: RawTeam): SalesTeam {
  return {
    fallbackOwner: raw.fallback_owner,
    sla: raw.sla ? { remindAfterMs: validated(parseDuration(raw.sla.remind_after)), reassignAfterMs: validated(parseDuration(raw.sla.reassign_after)) } : null,
    reps: raw.reps.map((rep) => ({
      id: rep.id,
      name: rep.name,
      email: rep.email,
      slackWebhookUrl: rep.slack_webhook_url ?? null,
      timezone: rep.timezone ?? 'UTC',
      capacity: rep.capacity ?? null,
      outOfOffice: rep.out_of_office.map((period) => ({
        from: validated(parseInstant(period.from, 'from')),
        until: validated(parseInstant(period.until, 'until')),
      })),
      territories: rep.territories.map((raw) => ({
        countries: raw.countries?.map((country) => country.toUpperCase()) ?? null,
        regions: raw.regions?.map((region) => region.toLowerCase()) ?? null,
        companySize: raw.company_size ? { min: raw.company_size.min ?? null, max: raw.company_size.max ?? null } : null,
        industries: raw.industries?.map((industry) => industry.toLowerCase()) ?? null,
      })),
    })),
  };
}

/** For values the schema has already checked: null here is a bug, not a problem in the file. */
function validated<T>(value: T | null): T {
  if (value === null) throw new Error('sales team: a value that passed validation did not parse');
  return value;
}

/** Checks across fields and reps. The input is unvalidated, so each check skips what it cannot read. */
function checkTeam(input: unknown, lineOf: LineOf): SalesTeamProblem[] {
  const problems: SalesTeamProblem[] = [];
  const report = (segments: Array<string | number>, message: string) => problems.push({ line: lineOf(segments), path: formatPath(segments), message });
  const team = record(input);
  const reps = Array.isArray(team.reps) ? team.reps.map(record) : [];
  const ids = new Map<string, number>();
  const emails = new Map<string, number>();
  reps.forEach((rep, index) => {
    if (typeof rep.id === 'string') {
      const first = ids.get(rep.id);
      if (first === undefined) ids.set(rep.id, index);
      else report(['reps', index, 'id'], `"${rep.id}" is also the id of reps[${first}]`);
    }
    if (typeof rep.email === 'string') {
      const email = rep.email.trim().toLowerCase();
      const first = emails.get(email);
      if (first === undefined) emails.set(email, index);
      else report(['reps', index, 'email'], `"${rep.email}" is also the email of reps[${first}]`);
    }
    checkRep(rep, (segments, message) => report(['reps', index, ...segments], message));
  });
  if (typeof team.fallback_owner === 'string' && ids.size > 0 && !ids.has(team.fallback_owner)) {
    report(['fallback_owner'], `"${team.fallback_owner}" is not a rep id; expected one of: ${[...ids.keys()].join(', ')}`);
  }
  const sla = record(team.sla);
  const remindMs = typeof sla.remind_after === 'string' ? parseDuration(sla.remind_after) : null;
  const reassignMs = typeof sla.reassign_after === 'string' ? parseDuration(sla.reassign_after) : null;
  if (remindMs !== null && reassignMs !== null && reassignMs <= remindMs) {
    report(['sla', 'reassign_after'], `"${String(sla.reassign_after)}" must be longer than remind_after "${String(sla.remind_after)}"`);
  }
  return problems;
}

function checkRep(rep: Record<string, unknown>, report: (segments: Array<string | number>, message: string) => void): void {
  const periods = Array.isArray(rep.out_of_office) ? rep.out_of_office.map(record) : [];
  periods.forEach((period, index) => {
    const from = typeof period.from === 'string' ? parseInstant(period.from, 'from') : null;
    const until = typeof period.until === 'string' ? parseInstant(period.until, 'until') : null;
    if (from && until && until <= from) report(['out_of_office', index, 'until'], `"${String(period.until)}" must be after from "${String(period.from)}"`);
  });
  const territories = Array.isArray(rep.territories) ? rep.territories.map(record) : [];
  territories.forEach((territory, index) => {
    const bounds = record(territory.company_size);
    if (typeof bounds.min === 'number' && typeof bounds.max === 'number' && bounds.min > bounds.max) {
      report(['territories', index, 'company_size'], `min ${bounds.min} must not be more than max ${bounds.max}`);
    }
  });
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? Object.fromEntries(Object.entries(value)) : {};
}

/**
 * The line of the node at segments or, when it is missing (a required key), the line where its
 * parent starts: the parent's key for a map value (`sla:`), the item for a list entry (`- id:`).
 */
function nodeLine(document: Document, lineCounter: LineCounter, segments: Array<string | number>): number | null {
  const lineAt = (node: unknown) => (isNode(node) && node.range ? lineCounter.linePos(node.range[0]).line : null);
  let node: unknown = document.contents;
  let line: number | null = null;
  for (const segment of segments) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && item.key.value === segment);
      if (!pair) return line;
      line = lineAt(pair.key);
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number' && node.items[segment] !== undefined) {
      node = node.items[segment];
      line = lineAt(node);
    } else {
      return line;
    }
  }
  return lineAt(node) ?? line;
}

/** File-level problems (no line) first, then in file order; ties keep their order. */
function sortByLine(problems: SalesTeamProblem[]): SalesTeamProblem[] {
  return [...problems].sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}
