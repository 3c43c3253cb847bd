import { AppError } from './errors.js';

/** Where a keyset page ends: the sort timestamp and the id that breaks ties. */
export interface KeysetPosition {
  at: Date;
  id: string;
}

export interface Page<T> {
  items: T[];
  /** Pass back as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeCursor(position: KeysetPosition): string {
  return Buffer.from(JSON.stringify([position.at.toISOString(), position.id])).toString('base64url');
}

export function decodeCursor(cursor: string): KeysetPosition {
  const invalid = new AppError('invalid_cursor', 'cursor is not a cursor returned by Baton', [
    { field: 'cursor', location: 'query', message: 'cursor must be a nextCursor value returned by a previous page' },
  ]);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid;
  const fields: unknown[] = parsed;
  const [at, id] = fields;
  if (typeof at !== 'string' || typeof id !== 'string' || !UUID.test(id)) throw invalid;
  const date = new Date(at);
  // Only what encodeCursor writes: a canonical ISO timestamp in a range Postgres can compare.
  if (Number.isNaN(date.getTime()) || date.toISOString() !== at || date.getUTCFullYear() < 1970 || date.getUTCFullYear() > 9999) throw invalid;
  return { at: date, id };
}

/** Builds a page from `limit + 1` fetched rows: the extra row only says that more exist. */
export function toPage<Row, Item>(rows: Row[], limit: number, position: (row: Row) => KeysetPosition, toItem: (row: Row) => Item): Page<Item> {
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return {
    items: pageRows.map(toItem),
    nextCursor: rows.length > limit && last !== undefined ? encodeCursor(position(last)) : null,
  };
}
