import type { Kysely, Selectable } from 'kysely';
import type { Database, TrackedLinksTable } from '../platform/db/schema.js';

export type TrackedLinkRow = Selectable<TrackedLinksTable>;

/** Stores the links of one or more sends in one statement; returns their ids by `${sendId} ${url}`. */
export async function insertTrackedLinks(db: Kysely<Database>, links: Array<{ sendId: string; leadId: string; url: string }>): Promise<Map<string, string>> {
  if (links.length === 0) return new Map();
  const rows = await db
    .insertInto('tracked_links')
    .values(links.map((link) => ({ send_id: link.sendId, lead_id: link.leadId, url: link.url })))
    .returning(['id', 'send_id', 'url'])
    .execute();
  return new Map(rows.map((row) => [`${row.send_id} ${row.url}`, row.id]));
}

export async function findTrackedLink(db: Kysely<Database>, id: string): Promise<TrackedLinkRow | undefined> {
  return db.selectFrom('tracked_links').selectAll().where('id', '=', id).executeTakeFirst();
}
