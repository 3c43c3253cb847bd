import { sql, type Kysely } from 'kysely';
import type { Database, WebhookDeliveryStatus } from '../platform/db/schema.js';

type Db = Kysely<Database>;

/** The settings row the triggers of migrations/0011 read: which endpoint wants which events. */
const ENDPOINTS_KEY = 'webhook_endpoints';

export interface EndpointInterest {
  id: string;
  events: string[];
}

/** The endpoint list the triggers read now (written by the last process to start); [] when none. */
export async function storedEndpointInterests(db: Db): Promise<EndpointInterest[]> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', ENDPOINTS_KEY).executeTakeFirst();
  if (!row) return [];
  const parsed: unknown = JSON.parse(row.value);
  return Array.isArray(parsed) ? (parsed as EndpointInterest[]) : [];
}

/** Replaces the endpoint list the triggers read; none: the triggers record nothing. */
export async function saveEndpointInterests(db: Db, endpoints: Array<{ id: string; events: string[] }>): Promise<void> {
  if (endpoints.length === 0) {
    await db.deleteFrom('settings').where('key', '=', ENDPOINTS_KEY).execute();
    return;
  }
  const value = JSON.stringify(endpoints.map(({ id, events }) => ({ id, events })));
  await db
    .insertInto('settings')
    .values({ key: ENDPOINTS_KEY, value })
    .onConflict((conflict) => conflict.column('key').doUpdateSet({ value }))
    .execute();
}

/** A delivery with the event it carries. */
export interface DeliveryRow {
  id: string;
  event_id: string;
  event_type: string;
  endpoint: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  next_attempt_at: Date;
  last_attempt_at: Date | null;
  last_status: number | null;
  last_response: string | null;
  last_error: string | null;
  redelivery_of: string | null;
  created_at: Date;
  delivered_at: Date | null;
  lead_id: string | null;
  occurred_at: Date;
  lead: Record<string, unknown> | null;
  subject: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
}

const DELIVERY_COLUMNS = sql.raw(`d.id, d.event_id, d.event_type, d.endpoint, d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status,
  d.last_response, d.last_error, d.redelivery_of, d.created_at, d.delivered_at, e.lead_id, e.occurred_at, e.lead, e.subject, e.previous`);

/**
 * Takes one endpoint's due deliveries, oldest first, unless another worker holds some of that
 * endpoint's deliveries (taken and not yet recorded): one endpoint's deliveries are sent by one
 * worker at a time, so they go out in order. The check and the take run under a per-endpoint
 * advisory lock, in statements after it (each with a snapshot taken once the lock is held), so two
 * workers cannot both pass the check. Marked taken rather than held locked (see
 * drainTriggerQueue): a worker that dies mid-send leaves them to others once `staleAfterMs` has
 * passed.
 */
export async function takeDueDeliveries(db: Db, endpoint: string, now: Date, limit: number, staleAfterMs: number): Promise<DeliveryRow[]> {
  return db.transaction().execute(async (trx) => {
    const { rows: locked } = await sql<{ got: boolean }>`
      select pg_try_advisory_xact_lock(hashtext('baton-webhook-endpoint'), hashtext(${endpoint})) as got`.execute(trx);
    if (!locked[0]?.got) return [];
    const stale = sql`now() - make_interval(secs => ${staleAfterMs / 1000})`;
    const { rows } = await sql<DeliveryRow>`
      with taken as (
        update webhook_deliveries set taken_at = clock_timestamp() where id in (
          select id from webhook_deliveries
          where status = 'pending' and endpoint = ${endpoint} and next_attempt_at <= ${now}
            and (taken_at is null or taken_at < ${stale})
            and not exists (
              select 1 from webhook_deliveries busy
              where busy.status = 'pending' and busy.endpoint = ${endpoint} and busy.taken_at >= ${stale}
            )
          order by next_attempt_at, id limit ${limit} for update skip locked
        ) returning *
      )
      select ${DELIVERY_COLUMNS} from taken d join webhook_events e on e.id = d.event_id order by d.next_attempt_at, d.id`.execute(trx);
    return rows;
  });
}

export type AttemptRecord =
  | { status: 'delivered' | 'failed'; httpStatus: number | null; response: string | null; error: string | null }
  | { status: 'pending'; httpStatus: number | null; response: string | null; error: string; nextAttemptAt: Date };

export async function recordAttempt(db: Db, id: string, record: AttemptRecord, now: Date): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set((eb) => ({
      status: record.status,
      attempts: eb('attempts', '+', 1),
      taken_at: null,
      last_attempt_at: now,
      last_status: record.httpStatus,
      last_response: record.response,
      last_error: record.error,
      ...(record.status === 'delivered' ? { delivered_at: now } : {}),
      ...(record.status === 'pending' ? { next_attempt_at: record.nextAttemptAt } : {}),
    }))
    .where('id', '=', id)
    .execute();
}

export interface DeliveryListQuery {
  status?: WebhookDeliveryStatus;
  type?: string;
  endpoint?: string;
  limit: number;
  /** Deliveries older than this id (keyset: newest first). */
  before?: string;
}

export async function listDeliveries(db: Db, query: DeliveryListQuery): Promise<DeliveryRow[]> {
  const filters = [
    query.status ? sql`d.status = ${query.status}` : null,
    query.type ? sql`d.event_type = ${query.type}` : null,
    query.endpoint ? sql`d.endpoint = ${query.endpoint}` : null,
    query.before ? sql`d.id < ${query.before}::bigint` : null,
  ].filter((filter) => filter !== null);
  const where = filters.length > 0 ? sql`where ${sql.join(filters, sql` and `)}` : sql``;
  const { rows } = await sql<DeliveryRow>`
    select ${DELIVERY_COLUMNS} from webhook_deliveries d join webhook_events e on e.id = d.event_id
    ${where} order by d.id desc limit ${query.limit + 1}`.execute(db);
  return rows;
}

export async function findDelivery(db: Db, id: string): Promise<DeliveryRow | undefined> {
  const { rows } = await sql<DeliveryRow>`
    select ${DELIVERY_COLUMNS} from webhook_deliveries d join webhook_events e on e.id = d.event_id where d.id = ${id}::bigint`.execute(db);
  return rows[0];
}

/** A new delivery of the same event to the same endpoint, due now; the original keeps its record. */
export async function insertRedelivery(db: Db, original: { id: string; eventId: string; eventType: string; endpoint: string }, now: Date): Promise<string> {
  const row = await db
    .insertInto('webhook_deliveries')
    .values({
      event_id: original.eventId,
      event_type: original.eventType,
      endpoint: original.endpoint,
      redelivery_of: original.id,
      next_attempt_at: now,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * Deletes events that happened before `before` and have no delivery still being tried for one of
 * `endpoints` (a pending delivery for an endpoint no longer configured anywhere would otherwise be
 * kept forever); their deliveries go with them (on delete cascade). Returns how many events were
 * deleted.
 */
export async function deleteFinishedEvents(db: Db, before: Date, limit: number, endpoints: string[]): Promise<number> {
  const { rows } = await sql<{ id: string }>`
    delete from webhook_events where id in (
      select e.id from webhook_events e
      where e.occurred_at < ${before}
        and not exists (
          select 1 from webhook_deliveries d
          where d.event_id = e.id and d.status = 'pending' and d.endpoint = any(${endpoints}::text[])
        )
      limit ${limit}
    ) returning id`.execute(db);
  return rows.length;
}
