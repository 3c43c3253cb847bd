import { textProblem } from '../platform/http/text-safety.js';
import type { Lead } from './lead.js';
import { countryCode, FIELD_ALIASES, normaliseHeader, TRAIT_ALIASES, type CsvField } from './lead-csv-headers.js';

/*
 * Pure CSV mapping for lead import and export: header names to fields, cells to lead input, leads
 * to cells. No I/O here, so the rules are unit-tested on their own.
 */

export type { CsvField } from './lead-csv-headers.js';

export type ColumnTarget = { kind: 'field'; field: CsvField } | { kind: 'trait'; name: string } | { kind: 'ignored' };

// Columns Baton writes itself on export; importing them back must not turn them into traits.
const EXPORT_ONLY = new Set(['id', 'createdat', 'updatedat', 'unsubscribedat']);

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
    const trait = TRAIT_ALIASES.get(key);
    if (trait) return { kind: 'trait', name: trait };
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
        candidate.tags = splitTags(cell);
        break;
      case 'country':
        // A name Baton cannot place is passed on as it is, and the row is refused naming it.
        candidate.country = countryCode(cell) ?? cell;
        break;
      case 'unsubscribedAt':
        candidate.unsubscribed = true;
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
      case 'consentStatus':
        consent.status = cell.toLowerCase();
        break;
      case 'consentSource':
        consent.source = cell;
        break;
      case 'consentAt':
        consent.at = cell;
        break;
      case 'consentText':
        consent.text = cell;
        break;
      default:
        candidate[target.field] = cell;
    }
  }
  if (traits.size > 0) candidate.traits = Object.fromEntries(traits);
  if (Object.keys(consent).length > 0) candidate.consent = consent;
  return { ok: true, candidate };
}

/**
 * A tags cell: `webinar;trial`, `webinar, trial`, or Mailchimp's `"webinar","trial"` (each tag
 * quoted inside the cell), into distinct tags without their quotes.
 */
export function splitTags(cell: string): string[] {
  const tags = cell
    .split(/[;|,]/)
    .map((tag) =>
      tag
        .trim()
        .replace(/^(["'])(.*)\1$/, '$2')
        .trim(),
    )
    .filter((tag) => tag !== '');
  return [...new Set(tags)];
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

export type Delimiter = ',' | ';' | '\t';

/**
 * The delimiter of a CSV file, read from its first line: Excel in much of Europe writes `;`, some
 * tools a tab. Excel's own hint line `sep=;` wins (and is then skipped, `hintLine`). Otherwise the
 * candidate found most often outside quotes; a comma when none is there (a one-column file).
 */
export function detectDelimiter(firstLine: string): { delimiter: Delimiter; hintLine: boolean } {
  const hint = /^sep=([,;\t])\s*$/i.exec(firstLine);
  if (hint?.[1]) return { delimiter: hint[1] as Delimiter, hintLine: true };
  const counts: Record<Delimiter, number> = { ',': 0, ';': 0, '\t': 0 };
  let quoted = false;
  for (const character of firstLine) {
    if (character === '"') quoted = !quoted;
    else if (!quoted && (character === ',' || character === ';' || character === '\t')) counts[character]++;
  }
  const best = (Object.entries(counts) as Array<[Delimiter, number]>).reduce((most, entry) => (entry[1] > most[1] ? entry : most));
  return { delimiter: best[1] > 0 ? best[0] : ',', hintLine: false };
}

export const EXPORT_COLUMNS = [
  'id',
  'email',
  'first_name',
  'last_name',
  'company',
  'title',
  'phone',
  'timezone',
  'country',
  'source',
  'tags',
  'traits',
  'consent_status',
  'consent_source',
  'consent_at',
  'unsubscribed_at',
  'created_at',
  'updated_at',
] as const;

export function leadToCsvCells(lead: Lead): string[] {
  const cells = [
    lead.id,
    lead.email,
    lead.firstName,
    lead.lastName,
    lead.company,
    lead.title,
    lead.phone,
    lead.timezone,
    lead.country,
    lead.source,
    lead.tags.join(';'),
    JSON.stringify(lead.traits),
    lead.consent?.status,
    lead.consent?.source,
    lead.consent?.at,
    lead.unsubscribedAt,
    lead.createdAt,
    lead.updatedAt,
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
