import { decodeCursor, encodeCursor } from '../platform/pagination.js';
import type { LeadListPosition } from './dashboard-leads.repository.js';

/*
 * The dashboard's "next page" links for the leads list: keyset positions, opaque in the URL.
 * By creation they are the API's cursors; by score, the score and the id that breaks ties.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function encodeLeadCursor(position: LeadListPosition): string {
  if (position.sort === 'created') return encodeCursor({ at: position.at, id: position.id });
  return Buffer.from(JSON.stringify(['score', position.score, position.id])).toString('base64url');
}

/** The position, or null for anything this module did not write for that sort. */
export function decodeLeadCursor(sort: 'created' | 'score', cursor: string): LeadListPosition | null {
  if (cursor.length > 200) return null;
  if (sort === 'created') {
    try {
      return { sort, ...decodeCursor(cursor) };
    } catch {
      return null;
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== 3 || parsed[0] !== 'score') return null;
  const fields: unknown[] = parsed;
  const [, score, id] = fields;
  if (typeof score !== 'number' || !Number.isFinite(score) || typeof id !== 'string' || !UUID.test(id)) return null;
  return { sort, score, id };
}
