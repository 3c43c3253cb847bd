import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { KeysetPosition } from '../platform/pagination.js';
import type { LeadFields, LeadInput, LeadRow } from './lead.js';

type Db = Kysely<Database>;

export async function findLeadById(db: Db, id: string): Promise<LeadRow | undefined> {
  return db.selectFrom('leads').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findLeadsByEmails(db: Db, emails: string[]): Promise<LeadRow[]> {
  if (emails.length === 0) return [];
  const lowered = emails.map((email) => email.toLowerCase());
  return db.selectFrom('leads').selectAll().where(sql<string>`lower(email)`, 'in', lowered).execute();
}

export async function findExistingLeadIds(db: Db, ids: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.selectFrom('leads').select('id').where('id', 'in', ids).execute();
  return new Set(rows.map((row) => row.id));
}

export interface UpsertedLead {
  row: LeadRow;
  created: boolean;
}

/**
 * Creates or updates leads by case-insensitive email in one statement. A field that is absent or
 * null keeps the stored value; traits are merged key by key; tags are added; an opt-out is kept.
 * The emails must be distinct (Postgres cannot update one row twice in a statement).
 */
export async function upsertLeads(db: Db, inputs: LeadInput[]): Promise<UpsertedLead[]> {
  if (inputs.length === 0) return [];
  const { rows } = await upsertStatement<LeadRow & { created: boolean }>(inputs, sql`*, (xmax = 0) as created`).execute(db);
  return rows.map(({ created, ...row }) => ({ row, created }));
}

/** The same upsert for bulk import, returning only how many leads were created and updated. */
export async function upsertLeadsCounting(db: Db, inputs: LeadInput[]): Promise<{ created: number; updated: number }> {
  if (inputs.length === 0) return { created: 0, updated: 0 };
  const { rows } = await upsertStatement<{ created: boolean }>(inputs, sql`(xmax = 0) as created`).execute(db);
  const created = rows.filter((row) => row.created).length;
  return { created, updated: rows.length - created };
}

/*
 * Rows travel as one array per column through unnest(): 13 parameters whatever the batch size,
 * where a multi-row VALUES list would bind 13 per row and make Postgres parse them all.
 */
function upsertStatement<Row>(inputs: LeadInput[], returning: RawBuilder<unknown>): RawBuilder<Row> {
  const column = <T>(pick: (input: LeadInput) => T) => inputs.map(pick);
  return sql<Row>`
    insert into leads (email, first_name, last_name, company, title, phone, timezone, country, source, traits, tags, consent, unsubscribed_at)
    select r.email, r.first_name, r.last_name, r.company, r.title, r.phone, r.timezone, r.country, r.source,
           r.traits::jsonb, array(select jsonb_array_elements_text(r.tags::jsonb)), r.consent::jsonb,
           case when r.unsubscribed then now() end
    from unnest(
      ${column((input) => input.email)}::text[], ${column((input) => input.firstName ?? null)}::text[],
      ${column((input) => input.lastName ?? null)}::text[], ${column((input) => input.company ?? null)}::text[],
      ${column((input) => input.title ?? null)}::text[], ${column((input) => input.phone ?? null)}::text[],
      ${column((input) => input.timezone ?? null)}::text[], ${column((input) => input.country ?? null)}::text[],
      ${column((input) => input.source ?? null)}::text[], ${column((input) => JSON.stringify(input.traits ?? {}))}::text[],
      ${column((input) => JSON.stringify(input.tags ?? []))}::text[],
      ${column((input) => (input.consent ? JSON.stringify(input.consent) : null))}::text[],
      ${column((input) => input.unsubscribed === true)}::boolean[]
    ) as r(email, first_name, last_name, company, title, phone, timezone, country, source, traits, tags, consent, unsubscribed)
    on conflict (lower(email)) do update set
      first_name = coalesce(excluded.first_name, leads.first_name),
      last_name = coalesce(excluded.last_name, leads.last_name),
      company = coalesce(excluded.company, leads.company),
      title = coalesce(excluded.title, leads.title),
      phone = coalesce(excluded.phone, leads.phone),
      timezone = coalesce(excluded.timezone, leads.timezone),
      country = coalesce(excluded.country, leads.country),
      source = coalesce(excluded.source, leads.source),
      consent = coalesce(excluded.consent, leads.consent),
      traits = leads.traits || excluded.traits,
      tags = leads.tags || array(select tag from unnest(excluded.tags) as tag where tag <> all(leads.tags)),
      unsubscribed_at = coalesce(leads.unsubscribed_at, excluded.unsubscribed_at),
      updated_at = now()
    returning ${returning}`;
}

const SCALAR_COLUMNS = {
  email: 'email',
  firstName: 'first_name',
  lastName: 'last_name',
  company: 'company',
  title: 'title',
  phone: 'phone',
  timezone: 'timezone',
  country: 'country',
  source: 'source',
} as const;

/** Applies a PATCH: null clears a field, traits follow JSON merge patch, tags are replaced. */
export async function updateLead(db: Db, id: string, patch: LeadFields & { email?: string }): Promise<LeadRow | undefined> {
  let query = db.updateTable('leads').set({ updated_at: sql`now()` }).where('id', '=', id);
  for (const [field, column] of Object.entries(SCALAR_COLUMNS)) {
    const value = patch[field as keyof typeof SCALAR_COLUMNS];
    if (value !== undefined) query = query.set({ [column]: value });
  }
  if (patch.traits !== undefined) {
    const removed = Object.keys(patch.traits).filter((key) => patch.traits?.[key] === null);
    const merged = Object.fromEntries(Object.entries(patch.traits).filter(([, value]) => value !== null));
    query = query.set({ traits: sql`(traits || ${JSON.stringify(merged)}::jsonb) - ${removed}::text[]` });
  }
  if (patch.tags !== undefined) query = query.set({ tags: patch.tags });
  if (patch.consent !== undefined) query = query.set({ consent: patch.consent === null ? null : JSON.stringify(patch.consent) });
  if (patch.unsubscribed) query = query.set({ unsubscribed_at: sql`coalesce(unsubscribed_at, now())` });
  return query.returningAll().executeTakeFirst();
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
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(filter.limit + 1).execute();
}

export async function deleteLead(db: Db, id: string): Promise<LeadRow | undefined> {
  return db.deleteFrom('leads').where('id', '=', id).returningAll().executeTakeFirst();
}
