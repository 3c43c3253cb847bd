import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { KeysetPosition } from '../platform/pagination.js';
import type { LeadRow } from './lead.js';
import type { LeadWrite } from './lead-merge.js';

type Db = Kysely<Database>;

export async function findLeadById(db: Db, id: string, lock?: 'update'): Promise<LeadRow | undefined> {
  let query = db.selectFrom('leads').selectAll().where('id', '=', id);
  if (lock === 'update') query = query.forUpdate();
  return query.executeTakeFirst();
}

export async function findLeadsByIds(db: Db, ids: string[]): Promise<LeadRow[]> {
  if (ids.length === 0) return [];
  return db
    .selectFrom('leads')
    .selectAll()
    .where('id', 'in', [...new Set(ids)])
    .execute();
}

export async function findLeadsByEmails(db: Db, emails: string[]): Promise<LeadRow[]> {
  if (emails.length === 0) return [];
  const lowered = [...new Set(emails.map((email) => email.toLowerCase()))];
  return db
    .selectFrom('leads')
    .selectAll()
    .where(sql<boolean>`lower(email) = any(${lowered}::text[])`)
    .execute();
}

/**
 * The ids that exist, share-locked until the transaction ends so an erasure cannot delete them
 * between this check and the insert that refers to them.
 */
export async function lockExistingLeadIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db
    .selectFrom('leads')
    .select('id')
    .where('id', 'in', [...new Set(ids)])
    .forShare()
    .execute();
  return new Set(rows.map((row) => row.id));
}

export async function leadExists(db: Db, id: string): Promise<boolean> {
  return (await db.selectFrom('leads').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
}

export interface WrittenLead {
  row: LeadRow;
  created: boolean;
}

/**
 * Writes merged leads by case-insensitive email in one statement: inserts new addresses and
 * replaces the stored fields of known ones (the stored spelling of the address is kept). The
 * emails must be distinct: Postgres cannot update one row twice in a statement.
 */
export async function writeLeads(db: Db, writes: LeadWrite[]): Promise<WrittenLead[]> {
  if (writes.length === 0) return [];
  const { rows } = await upsertStatement<LeadRow & { created: boolean }>(writes, sql`*, (xmax = 0) as created`).execute(db);
  return rows.map(({ created, ...row }) => ({ row, created }));
}

/** The same write for bulk import, returning only how many leads were created and updated. */
export async function writeLeadsCounting(db: Db, writes: LeadWrite[]): Promise<{ created: number; updated: number }> {
  if (writes.length === 0) return { created: 0, updated: 0 };
  const { rows } = await upsertStatement<{ created: boolean }>(writes, sql`(xmax = 0) as created`).execute(db);
  const created = rows.filter((row) => row.created).length;
  return { created, updated: rows.length - created };
}

/*
 * Rows travel as one array per column through unnest(): 13 parameters whatever the batch size,
 * where a multi-row VALUES list would bind 13 per row and make Postgres parse them all.
 */
function upsertStatement<Row>(writes: LeadWrite[], returning: RawBuilder<unknown>): RawBuilder<Row> {
  const column = <T>(pick: (write: LeadWrite) => T) => writes.map(pick);
  return sql<Row>`
    insert into leads (email, first_name, last_name, company, title, phone, timezone, country, source, traits, tags, consent, unsubscribed_at)
    select r.email, r.first_name, r.last_name, r.company, r.title, r.phone, r.timezone, r.country, r.source,
           r.traits::jsonb, array(select jsonb_array_elements_text(r.tags::jsonb)), r.consent::jsonb, r.unsubscribed_at
    from unnest(
      ${column((write) => write.email)}::text[], ${column((write) => write.firstName)}::text[],
      ${column((write) => write.lastName)}::text[], ${column((write) => write.company)}::text[],
      ${column((write) => write.title)}::text[], ${column((write) => write.phone)}::text[],
      ${column((write) => write.timezone)}::text[], ${column((write) => write.country)}::text[],
      ${column((write) => write.source)}::text[], ${column((write) => JSON.stringify(write.traits))}::text[],
      ${column((write) => JSON.stringify(write.tags))}::text[],
      ${column((write) => (write.consent ? JSON.stringify(write.consent) : null))}::text[],
      ${column((write) => write.unsubscribedAt)}::timestamptz[]
    ) as r(email, first_name, last_name, company, title, phone, timezone, country, source, traits, tags, consent, unsubscribed_at)
    on conflict (lower(email)) do update set
      first_name = excluded.first_name, last_name = excluded.last_name, company = excluded.company,
      title = excluded.title, phone = excluded.phone, timezone = excluded.timezone, country = excluded.country,
      source = excluded.source, consent = excluded.consent, traits = excluded.traits, tags = excluded.tags,
      unsubscribed_at = excluded.unsubscribed_at, updated_at = now()
    returning ${returning}`;
}

/** Replaces every field of one lead, its address included. */
export async function updateLead(db: Db, id: string, write: LeadWrite): Promise<LeadRow | undefined> {
  return db
    .updateTable('leads')
    .set({
      email: write.email,
      first_name: write.firstName,
      last_name: write.lastName,
      company: write.company,
      title: write.title,
      phone: write.phone,
      timezone: write.timezone,
      country: write.country,
      source: write.source,
      traits: JSON.stringify(write.traits),
      tags: write.tags,
      consent: write.consent ? JSON.stringify(write.consent) : null,
      unsubscribed_at: write.unsubscribedAt,
      updated_at: sql`now()`,
    })
    .where('id', '=', id)
    .returningAll()
    .executeTakeFirst();
}

export interface LeadFilter {
  email?: string;
  tag?: string;
  q?: string;
  after?: KeysetPosition;
  limit: number;
}

/** Newest first; fetches one row more than asked so the caller knows whether a next page exists. */
export async function listLeads(db: Db, filter: LeadFilter): Promise<LeadRow[]> {
  let query = db.selectFrom('leads').selectAll();
  if (filter.email) query = query.where(sql<string>`lower(email)`, '=', filter.email.toLowerCase());
  if (filter.tag) query = query.where(sql<boolean>`tags @> array[${filter.tag}]::text[]`);
  if (filter.q) {
    const pattern = `%${filter.q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
    query = query.where((eb) =>
      eb.or([
        eb('email', 'ilike', pattern),
        eb('first_name', 'ilike', pattern),
        eb('last_name', 'ilike', pattern),
        eb('company', 'ilike', pattern),
        eb(sql<string>`coalesce(first_name, '') || ' ' || coalesce(last_name, '')`, 'ilike', pattern),
      ]),
    );
  }
  if (filter.after) {
    const { at, id } = filter.after;
    query = query.where(sql<boolean>`(created_at, id) < (${at}, ${id}::uuid)`);
  }
  return query
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(filter.limit + 1)
    .execute();
}

export async function deleteLead(db: Db, id: string): Promise<LeadRow | undefined> {
  return db.deleteFrom('leads').where('id', '=', id).returningAll().executeTakeFirst();
}

/** Sets unsubscribed_at unless already set; `changed` says whether this call set it. */
export async function markUnsubscribed(db: Db, id: string): Promise<{ changed: boolean } | undefined> {
  const updated = await db
    .updateTable('leads')
    .set({ unsubscribed_at: sql`now()`, updated_at: sql`now()` })
    .where('id', '=', id)
    .where('unsubscribed_at', 'is', null)
    .returning('id')
    .executeTakeFirst();
  if (updated) return { changed: true };
  return (await leadExists(db, id)) ? { changed: false } : undefined;
}
