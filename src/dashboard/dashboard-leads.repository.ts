import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';

type Db = Kysely<Database>;

/** Where a page of the leads list ends: newest first by creation, or highest score first. */
export type LeadListPosition = { sort: 'created'; at: Date; id: string } | { sort: 'score'; score: number; id: string };

export interface LeadListRow {
  id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  created_at: Date;
  /** Null when the lead has never been scored. */
  total: number | null;
  grade: string | null;
  stage: string | null;
}

/** One page of leads with their score, grade and stage; `limit + 1` rows, so the caller knows if more exist. */
/** `repId`: only the leads handed to that rep (a rep's view); null for every lead (the admin's). */
export async function listLeadsWithScores(
  db: Db,
  query: { q: string; sort: 'created' | 'score'; limit: number; after: LeadListPosition | null; repId: string | null },
): Promise<LeadListRow[]> {
  let select = db
    .selectFrom('leads')
    .leftJoin('lead_scores', 'lead_scores.lead_id', 'leads.id')
    .select([
      'leads.id',
      'leads.email',
      'leads.first_name',
      'leads.last_name',
      'leads.company',
      'leads.created_at',
      'lead_scores.total',
      'lead_scores.grade',
      'lead_scores.stage',
    ]);
  const repId = query.repId;
  if (repId !== null)
    select = select.where(({ exists, selectFrom }) =>
      exists(selectFrom('handoffs').select('handoffs.id').whereRef('handoffs.lead_id', '=', 'leads.id').where('handoffs.rep_id', '=', repId)),
    );
  if (query.q) {
    const pattern = `%${query.q.replace(/[\\%_]/g, (char) => `\\${char}`)}%`;
    select = select.where((eb) =>
      eb.or([
        eb('leads.email', 'ilike', pattern),
        eb('leads.first_name', 'ilike', pattern),
        eb('leads.last_name', 'ilike', pattern),
        eb('leads.company', 'ilike', pattern),
        eb(sql<string>`coalesce(leads.first_name, '') || ' ' || coalesce(leads.last_name, '')`, 'ilike', pattern),
      ]),
    );
  }
  // An unscored lead sorts as score 0: the same expression orders and pages.
  const score = sql<number>`coalesce(lead_scores.total, 0)`;
  const after = query.after;
  if (after?.sort === 'score') select = select.where(sql<boolean>`(${score}, leads.id) < (${after.score}, ${after.id}::uuid)`);
  if (after?.sort === 'created') select = select.where(sql<boolean>`(leads.created_at, leads.id) < (${after.at}, ${after.id}::uuid)`);
  const ordered = query.sort === 'score' ? select.orderBy(score, 'desc') : select.orderBy('leads.created_at', 'desc');
  return ordered
    .orderBy('leads.id', 'desc')
    .limit(query.limit + 1)
    .execute();
}

/** Whether the lead was ever handed to the rep: what a rep may open. */
export async function wasHandedTo(db: Db, leadId: string, repId: string): Promise<boolean> {
  const row = await db.selectFrom('handoffs').select('id').where('lead_id', '=', leadId).where('rep_id', '=', repId).limit(1).executeTakeFirst();
  return row !== undefined;
}
