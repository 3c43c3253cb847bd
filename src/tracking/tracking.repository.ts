import type { Kysely, Selectable } from 'kysely';
import type { Database, TrackedLinksTable } from '../platform/db/schema.js';

export type TrackedLinkRow = Selectable<TrackedLinksTable>;

/** Stores the distinct links of one send; returns their ids by URL. */
export async function insertTrackedLinks(db: Kysely<Database>, sendId: string, leadId: string, urls: string[]): Promise<Map<string, string>> {
  if (urls.length === 0) return new Map();
  const rows = await db
    .insertInto('tracked_links')
    .values(urls.map((url) => ({ send_id: sendId, lead_id: leadId, url })))
    .returning(['id', 'url'])
    .execute();
  return new Map(rows.map((row) => [row.url, row.id]));
}

export async function findTrackedLink(db: Kysely<Database>, id: string): Promise<TrackedLinkRow | undefined> {
  return db.selectFrom('tracked_links').selectAll().where('id', '=', id).executeTakeFirst();
}
