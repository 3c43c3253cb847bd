import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { KeysetPosition } from '../platform/pagination.js';
import type { EventRow } from './event.js';

type Db = Kysely<Database>;

export interface NewEvent {
  leadId: string;
  type: string;
  properties: Record<string, unknown>;
  occurredAt: Date;
}

/** Appends events in one statement; returns their ids in input order. */
export async function insertEvents(db: Db, events: NewEvent[]): Promise<string[]> {
  if (events.length === 0) return [];
  // Ids are generated here rather than by RETURNING, whose row order Postgres does not promise.
  const rows = events.map((event) => ({
    id: randomUUID(),
    lead_id: event.leadId,
    type: event.type,
    properties: JSON.stringify(event.properties),
    occurred_at: event.occurredAt,
  }));
  await db.insertInto('events').values(rows).execute();
  return rows.map((row) => row.id);
}

export interface TimelineFilter {
  leadId: string;
  type?: string;
  before?: KeysetPosition;
  limit: number;
}

/** Newest first, one row more than the limit so the caller can tell whether a next page exists. */
export async function listTimeline(db: Db, filter: TimelineFilter): Promise<EventRow[]> {
  let query = db.selectFrom('events').selectAll().where('lead_id', '=', filter.leadId);
  if (filter.type) query = query.where('type', '=', filter.type);
  if (filter.before) query = query.where(sql<boolean>`(occurred_at, id) < (${filter.before.at}, ${filter.before.id}::uuid)`);
  return query.orderBy('occurred_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
}

export async function listEventsForLead(db: Db, leadId: string): Promise<EventRow[]> {
  return db.selectFrom('events').selectAll().where('lead_id', '=', leadId).orderBy('occurred_at').orderBy('id').execute();
}
