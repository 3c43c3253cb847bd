import { zonedTime } from '../sequences/local-time.js';
import { canonicalTimeZone } from '../platform/time-zones.js';

/*
 * The report's period and grouping, from query text to values, pure with `now` passed in.
 * `from` and `to` are calendar dates (YYYY-MM-DD, midnight in `tz`; `to` includes its whole day)
 * or ISO 8601 instants with an offset (`to` exclusive). The period selects leads by when they
 * were created: a cohort, followed through every later stage.
 */

export const GROUPINGS = ['source', 'sequence', 'rep', 'month'] as const;
export type Grouping = (typeof GROUPINGS)[number];

export interface ReportQuery {
  from: Date;
  to: Date;
  by: Grouping | null;
  timeZone: string;
}

export type QueryParse = { ok: true; query: ReportQuery } | { ok: false; field: string; message: string };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$/;
const DEFAULT_DAYS = 365;
const KNOWN = new Set(['from', 'to', 'by', 'tz']);

function parseBound(text: string, timeZone: string, end: boolean): Date | null {
  const date = DATE.exec(text);
  if (date) {
    const [year, month, day] = [Number(date[1]), Number(date[2]), Number(date[3])];
    const check = new Date(Date.UTC(year, month - 1, day));
    if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return null;
    // The end of a date is the next day's midnight: `to=2026-03-31` takes in all of March 31.
    const next = new Date(Date.UTC(year, month - 1, day + (end ? 1 : 0)));
    return zonedTime(next.getUTCFullYear(), next.getUTCMonth() + 1, next.getUTCDate(), 0, 0, timeZone);
  }
  if (INSTANT.test(text)) {
    const at = new Date(text);
    return Number.isNaN(at.getTime()) ? null : at;
  }
  return null;
}

export function parseReportQuery(input: Record<string, unknown>, now: Date): QueryParse {
  for (const key of Object.keys(input)) {
    if (!KNOWN.has(key)) return { ok: false, field: key, message: `${key} is not a parameter of this report (from, to, by, tz)` };
  }
  const text = (key: string): string | null | undefined => {
    const value = input[key];
    if (value === undefined) return undefined;
    return typeof value === 'string' ? value.trim() : null;
  };
  const tzText = text('tz');
  if (tzText === null) return { ok: false, field: 'tz', message: 'tz must be given once' };
  const timeZone = tzText === undefined || tzText === '' ? 'UTC' : canonicalTimeZone(tzText);
  if (!timeZone) return { ok: false, field: 'tz', message: `tz must be an IANA time zone such as Europe/Paris (not "${String(tzText).slice(0, 40)}")` };
  const byText = text('by');
  if (byText === null) return { ok: false, field: 'by', message: 'by must be given once' };
  let by: Grouping | null = null;
  if (byText !== undefined && byText !== '') {
    const found = GROUPINGS.find((grouping) => grouping === byText);
    if (!found) return { ok: false, field: 'by', message: `by must be one of ${GROUPINGS.join(', ')} (not "${byText.slice(0, 40)}")` };
    by = found;
  }
  const bound = (key: 'from' | 'to'): Date | null | 'bad' => {
    const value = text(key);
    if (value === undefined || value === '') return null;
    if (value === null) return 'bad';
    return parseBound(value, timeZone, key === 'to') ?? 'bad';
  };
  const to = bound('to');
  if (to === 'bad') return { ok: false, field: 'to', message: 'to must be a date (YYYY-MM-DD) or an ISO 8601 time with an offset' };
  const from = bound('from');
  if (from === 'bad') return { ok: false, field: 'from', message: 'from must be a date (YYYY-MM-DD) or an ISO 8601 time with an offset' };
  const end = to ?? now;
  const start = from ?? new Date(end.getTime() - DEFAULT_DAYS * 86_400_000);
  if (start.getTime() >= end.getTime()) return { ok: false, field: 'to', message: 'to must be after from' };
  return { ok: true, query: { from: start, to: end, by, timeZone } };
}
