import { textProblem } from '../platform/http/text-safety.js';
import type { Lead } from './lead.js';

/*
 * Pure CSV mapping for lead import and export: header names to fields, cells to lead input, leads
 * to cells. No I/O here, so the rules are unit-tested on their own.
 */

export type CsvField =
  | 'email' | 'firstName' | 'lastName' | 'company' | 'title' | 'phone' | 'timezone' | 'country' | 'source'
  | 'tags' | 'traits' | 'unsubscribed' | 'consentStatus' | 'consentSource' | 'consentAt' | 'consentText';

export type ColumnTarget = { kind: 'field'; field: CsvField } | { kind: 'trait'; name: string } | { kind: 'ignored' };

// A Map, not an object literal: a column named constructor or __proto__ must not find
// Object.prototype's members (issue 16: every row was rejected).
const FIELD_ALIASES = new Map<string, CsvField>(Object.entries({
  email: 'email', emailaddress: 'email', mail: 'email',
  firstname: 'firstName', givenname: 'firstName',
  lastname: 'lastName', surname: 'lastName', familyname: 'lastName',
  company: 'company', companyname: 'company', organization: 'company', organisation: 'company',
  title: 'title', jobtitle: 'title',
  phone: 'phone', phonenumber: 'phone', telephone: 'phone',
  timezone: 'timezone', tz: 'timezone',
  country: 'country', countrycode: 'country',
  source: 'source', leadsource: 'source',
  tags: 'tags',
  traits: 'traits',
  unsubscribed: 'unsubscribed',
  consentstatus: 'consentStatus', consentsource: 'consentSource', consentat: 'consentAt', consenttext: 'consentText',
} satisfies Record<string, CsvField>));

// Columns Baton writes itself on export; importing them back must not turn them into traits.
const EXPORT_ONLY = new Set(['id', 'createdat', 'updatedat', 'unsubscribedat']);

function normaliseHeader(name: string): string {
  return name.trim().toLowerCase().replace(/[\s_\-.]+/g, '');
}

export interface HeaderMapping {
  targets: ColumnTarget[];
  problems: string[];
}

/** Maps a header row: known names (any case, spaces, _ or -) to fields, the rest to traits. */
export function mapHeader(header: string[]): HeaderMapping {
  const problems: string[] = [];
  const seen = new Map<string, number>();
  const targets = header.map((raw, index): ColumnTarget => {
    const key = normaliseHeader(raw);
    if (key === '') return { kind: 'ignored' };
    const previous = seen.get(key);
    if (previous !== undefined) problems.push(`columns ${previous + 1} and ${index + 1} are both "${raw.trim()}"`);
    seen.set(key, index);
    const field = FIELD_ALIASES.get(key);
    if (field) return { kind: 'field', field };
    if (EXPORT_ONLY.has(key)) return { kind: 'ignored' };
    // __proto__ cannot be a trait name: validation drops it, as it does in the JSON API.
    if (raw.trim() === '__proto__') return { kind: 'ignored' };
    return { kind: 'trait', name: raw.trim() };
  });
  if (!targets.some((target) => target.kind === 'field' && target.field === 'email')) {
    problems.push('the header has no email column (accepted names: email, email address, e-mail)');
  }
  return { targets, problems };
}

export type RowCandidate = Record<string, unknown> & { email?: string };

export type RowMapping = { ok: true; candidate: RowCandidate } | { ok: false; reason: string };

const TRUE_WORDS = new Set(['true', 'yes', 'y', '1']);
const FALSE_WORDS = new Set(['false', 'no', 'n', '0']);

/**
 * Turns one row into the shape the lead schema validates. Empty cells are left out, so an import
 * never blanks a stored value.
 */
export function mapRow(cells: string[], targets: ColumnTarget[]): RowMapping {
  if (cells.length > targets.length) return { ok: false, reason: `row has ${cells.length} cells but the header has ${targets.length} columns` };
  for (const [index, cell] of cells.entries()) {
    const problem = textProblem(cell, []);
    if (problem) return { ok: false, reason: `column ${index + 1} ${problem.message}` };
  }
  const candidate: RowCandidate = {};
  // Entries, made into an object at the end: assigning traits['__proto__'] would set the prototype.
  const traits = new Map<string, unknown>();
  const consent: Record<string, string> = {};
  for (const [index, target] of targets.entries()) {
    const cell = unescapeFormula(cells[index]?.trim() ?? '');
    if (cell === '' || target.kind === 'ignored') continue;
    if (target.kind === 'trait') {
      traits.set(target.name, cell);
      continue;
    }
    switch (target.field) {
      case 'tags':
        candidate.tags = [...new Set(cell.split(/[;|,]/).map((tag) => tag.trim()).filter((tag) => tag !== ''))];
        break;
      case 'traits': {
        const parsed = parseJsonObject(cell);
        if (!parsed) return { ok: false, reason: 'traits must be a JSON object' };
        for (const [name, value] of Object.entries(parsed)) traits.set(name, value);
        break;
      }
      case 'unsubscribed': {
        const word = cell.toLowerCase();
        if (TRUE_WORDS.has(word)) candidate.unsubscribed = true;
        else if (!FALSE_WORDS.has(word)) return { ok: false, reason: `unsubscribed must be true or false, got "${cell.slice(0, 40)}"` };
        break;
      }
      case 'consentStatus': consent.status = cell.toLowerCase(); break;
      case 'consentSource': consent.source = cell; break;
      case 'consentAt': consent.at = cell; break;
      case 'consentText': consent.text = cell; break;
      default:
        candidate[target.field] = cell;
    }
  }
  if (traits.size > 0) candidate.traits = Object.fromEntries(traits);
  if (Object.keys(consent).length > 0) candidate.consent = consent;
  return { ok: true, candidate };
}

/** Undoes escapeFormula so that an exported file imports back unchanged. */
function unescapeFormula(cell: string): string {
  return /^'[=+\-@\t\r]/.test(cell) ? cell.slice(1) : cell;
}

function parseJsonObject(text: string): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? { ...parsed } : null;
  } catch {
    return null;
  }
}

export const EXPORT_COLUMNS = [
  'id', 'email', 'first_name', 'last_name', 'company', 'title', 'phone', 'timezone', 'country', 'source',
  'tags', 'traits', 'consent_status', 'consent_source', 'consent_at', 'unsubscribed_at', 'created_at', 'updated_at',
] as const;

export function leadToCsvCells(lead: Lead): string[] {
  const cells = [
    lead.id, lead.email, lead.firstName, lead.lastName, lead.company, lead.title, lead.phone, lead.timezone, lead.country,
    lead.source, lead.tags.join(';'), JSON.stringify(lead.traits), lead.consent?.status, lead.consent?.source, lead.consent?.at,
    lead.unsubscribedAt, lead.createdAt, lead.updatedAt,
  ];
  return cells.map((cell) => escapeFormula(cell ?? ''));
}

/**
 * Spreadsheet formula injection (OWASP "CSV injection"): a cell that starts with = + - @, a tab or
 * a carriage return is run as a formula by Excel and friends. A leading apostrophe makes it text.
 */
export function escapeFormula(cell: string): string {
  return /^[=+\-@\t\r]/.test(cell) ? `'${cell}` : cell;
}
