import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, DevMailTable } from '../platform/db/schema.js';

export type DevMailRow = Selectable<DevMailTable>;

/** Newest first; `to` matches any envelope recipient, ignoring case. */
export async function listDevMail(db: Kysely<Database>, options: { to?: string; limit: number }): Promise<DevMailRow[]> {
  let query = db.selectFrom('dev_mail').selectAll();
  if (options.to) {
    const to = options.to.toLowerCase();
    query = query.where(sql<boolean>`exists (select 1 from unnest(envelope_to) as recipient where lower(recipient) = ${to})`);
  }
  return query.orderBy('received_at', 'desc').orderBy('id', 'desc').limit(options.limit).execute();
}

export async function findDevMail(db: Kysely<Database>, id: string): Promise<DevMailRow | undefined> {
  return db.selectFrom('dev_mail').selectAll().where('id', '=', id).executeTakeFirst();
}
