import { randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { KeysetPosition } from '../platform/pagination.js';
import type { EventRow } from './event.js';

type Db = Kysely<Database>;

export interface NewEvent {
  /** Set by callers that may write the same event twice (a retried batch): the second write is a no-op. */
  id?: string;
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

/**
 * Appends events whose lead still exists and silently drops the rest: a click that arrives after
 * its lead was erased must not fail the whole batch (or bring the lead's data back). Events with
 * an id already stored are skipped: a batch whose commit was answered by a dying connection is
 * written again, and must not count its clicks twice.
 */
export async function insertEventsForExistingLeads(db: Db, events: NewEvent[]): Promise<number> {
  if (events.length === 0) return 0;
  // One JSON document for the batch: JSON.stringify is native, while pg builds array parameters
  // element by element in JavaScript, which cost the click path more than the insert itself.
  const batch = JSON.stringify(
    events.map((event) => ({ id: event.id, lead_id: event.leadId, type: event.type, properties: event.properties, occurred_at: event.occurredAt })),
  );
  const result = await sql`
    insert into events (id, lead_id, type, properties, occurred_at)
    select coalesce(r.id, gen_random_uuid()), r.lead_id, r.type, r.properties, r.occurred_at
    from jsonb_to_recordset(${batch}::jsonb) as r(id uuid, lead_id uuid, type text, properties jsonb, occurred_at timestamptz)
    where exists (select 1 from leads where leads.id = r.lead_id)
    on conflict (id) do nothing`.execute(db);
  return Number(result.numAffectedRows ?? 0);
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
  return query
    .orderBy('occurred_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit + 1)
    .execute();
}

export async function listEventsForLead(db: Db, leadId: string): Promise<EventRow[]> {
  return db.selectFrom('events').selectAll().where('lead_id', '=', leadId).orderBy('occurred_at').orderBy('id').execute();
}
