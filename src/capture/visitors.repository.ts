import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';

type Db = Kysely<Database>;

export interface VisitorEvent {
  /** Given by the caller, so a batch written twice stores each event once. */
  id: string;
  visitorId: string;
  type: string;
  properties: Record<string, unknown>;
  occurredAt: Date;
}

/** A visitor's last_seen_at is moved on at most this often: retention needs no finer clock, and each move rewrites the row. */
const LAST_SEEN_STEP = '5 minutes';

/**
 * Two statements in one transaction. The first upserts the batch's visitors in id order, which
 * locks their rows (two batches lock in the same order and cannot deadlock; a join in flight is
 * waited for), and moves last_seen_at only when it is over five minutes old. The second, with a
 * snapshot taken after those locks, sends the events of visitors joined to a lead to `events`
 * (and so to scoring, triggers and goals) and keeps the others in `visitor_events`.
 */
export async function recordVisitorEvents(db: Db, events: VisitorEvent[]): Promise<void> {
  if (events.length === 0) return;
  const batch = JSON.stringify(
    events.map((event) => ({ id: event.id, visitor_id: event.visitorId, type: event.type, properties: event.properties, occurred_at: event.occurredAt })),
  );
  // The first statement needs only each visitor's latest time: a smaller parameter than the batch.
  const latest = new Map<string, Date>();
  for (const event of events) {
    const seen = latest.get(event.visitorId);
    if (!seen || seen < event.occurredAt) latest.set(event.visitorId, event.occurredAt);
  }
  const visitors = JSON.stringify([...latest].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([id, at]) => ({ id, at })));
  await db.transaction().execute(async (trx) => {
    await sql`
      insert into visitors (id, first_seen_at, last_seen_at)
      select id, at, at from jsonb_to_recordset(${visitors}::jsonb) as r(id text, at timestamptz) order by id
      on conflict (id) do update set last_seen_at = excluded.last_seen_at
      where visitors.last_seen_at < excluded.last_seen_at - ${LAST_SEEN_STEP}::interval`.execute(trx);
    await sql`
      with batch as (
        select * from jsonb_to_recordset(${batch}::jsonb) as r(id uuid, visitor_id text, type text, properties jsonb, occurred_at timestamptz)
      ), seen as (
        select id, lead_id from visitors where id in (select visitor_id from batch)
      ), known as (
        insert into events (id, lead_id, type, properties, occurred_at)
        select b.id, s.lead_id, b.type, b.properties, b.occurred_at from batch b join seen s on s.id = b.visitor_id
        where s.lead_id is not null
        on conflict (id) do nothing
      )
      insert into visitor_events (id, visitor_id, type, properties, occurred_at)
      select b.id, b.visitor_id, b.type, b.properties, b.occurred_at from batch b join seen s on s.id = b.visitor_id
      where s.lead_id is null
      on conflict (id) do nothing`.execute(trx);
  });
}

/** The lead the visitor is joined to now, locking the visitor's row (created when new) until the transaction ends. */
export async function lockVisitor(trx: Db, visitorId: string, now: Date): Promise<{ leadId: string | null }> {
  await trx
    .insertInto('visitors')
    .values({ id: visitorId, first_seen_at: now, last_seen_at: now })
    .onConflict((conflict) => conflict.column('id').doNothing())
    .execute();
  const row = await trx.selectFrom('visitors').select('lead_id').where('id', '=', visitorId).forUpdate().executeTakeFirstOrThrow();
  return { leadId: row.lead_id };
}

/** Moves the visitor's waiting events to the lead, with their own times; returns how many. */
export async function moveVisitorEventsToLead(trx: Db, visitorId: string, leadId: string): Promise<number> {
  const moved = await sql`
    with taken as (delete from visitor_events where visitor_id = ${visitorId} returning id, type, properties, occurred_at)
    insert into events (id, lead_id, type, properties, occurred_at)
    select id, ${leadId}::uuid, type, properties, occurred_at from taken order by occurred_at, id
    on conflict (id) do nothing`.execute(trx);
  return Number(moved.numAffectedRows ?? 0);
}

export async function setVisitorLead(trx: Db, visitorId: string, leadId: string, now: Date): Promise<void> {
  await trx.updateTable('visitors').set({ lead_id: leadId, identified_at: now, last_seen_at: now }).where('id', '=', visitorId).execute();
}

/** Deletes up to `limit` anonymous visitors last seen before `before`, with their events; returns how many. */
export async function deleteAnonymousVisitors(db: Db, before: Date, limit: number): Promise<number> {
  const result = await sql`
    delete from visitors where id in (
      select id from visitors where lead_id is null and last_seen_at < ${before} order by last_seen_at limit ${limit} for update skip locked
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
