import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { ACCOUNT_DOMAIN_SQL } from './account.js';

type Db = Kysely<Database>;

const domainOfLead = sql.raw(ACCOUNT_DOMAIN_SQL);

/**
 * Who counts at an account: not a person who unsubscribed or objected (their activity is not to be
 * shown to sales), nor one sales disqualified. Erased people are deleted, with their events.
 */
const COUNTED_PERSON = sql`l.unsubscribed_at is null and s.stage is distinct from 'disqualified'`;

/** Events a person did (not what Baton did to them), as the briefing counts them; unsubscribing is not engagement. */
const ENGAGEMENT_FILTER = sql`(e.properties -> 'machine') is distinct from 'true'::jsonb
  and (e.type !~ '^(email_|handoff_|baton_|unsubscribed$)' or e.type in ('email_opened', 'email_clicked'))`;

export interface AccountActivityRow {
  lead_id: string;
  email: string;
  first_name: string | null;
  last_name: string | null;
  title: string | null;
  id: string;
  type: string;
  occurred_at: Date;
  properties: Record<string, unknown>;
  /** The person's actions in the period (of which at most `perPerson` rows are returned). */
  actions: string;
}

/**
 * The other people at `domain` who engaged between `since` and `until`: their most recent
 * `perPerson` actions each, with their count. Bounded for large accounts: only the `maxPeople`
 * rescored most recently (every human event rescores its lead) are read, then each one's events
 * from its timeline index.
 */
export async function accountActivity(
  db: Db,
  domain: string,
  excludeLeadId: string,
  since: Date,
  until: Date,
  perPerson: number,
  maxPeople: number,
): Promise<AccountActivityRow[]> {
  const { rows } = await sql<AccountActivityRow>`
    with people as (
      select l.id, l.email, l.first_name, l.last_name, l.title
      from leads l join lead_scores s on s.lead_id = l.id
      where ${domainOfLead} = ${domain} and l.id <> ${excludeLeadId} and s.scored_at >= ${since} and ${COUNTED_PERSON}
      order by s.scored_at desc limit ${maxPeople}
    )
    select p.id as lead_id, p.email, p.first_name, p.last_name, p.title, a.id, a.type, a.occurred_at, a.properties, a.actions
    from people p
    cross join lateral (
      select e.id, e.type, e.occurred_at, e.properties, count(*) over () as actions
      from events e
      where e.lead_id = p.id and e.occurred_at >= ${since} and e.occurred_at <= ${until} and ${ENGAGEMENT_FILTER}
      order by e.occurred_at desc, e.id desc
      limit ${perPerson}
    ) a`.execute(db);
  return rows;
}

/** The stored engagement points of the other leads at `domain` who count (COUNTED_PERSON), and how many there are. */
export async function accountEngagement(db: Db, domain: string, excludeLeadId: string): Promise<{ people: number; engagement: number }> {
  const { rows } = await sql<{ people: string; engagement: number | null }>`
    select count(*) as people, sum(s.engagement) as engagement
    from leads l left join lead_scores s on s.lead_id = l.id
    where ${domainOfLead} = ${domain} and l.id <> ${excludeLeadId} and ${COUNTED_PERSON}`.execute(db);
  return { people: Number(rows[0]?.people ?? 0), engagement: Number(rows[0]?.engagement ?? 0) };
}

/** How many leads have an address at `domain`, counted up to `limit` + 1 only (from the leads_email_domain index). */
export async function accountSize(db: Db, domain: string, limit: number): Promise<number> {
  const { rows } = await sql<{ n: string }>`
    select count(*) as n from (select 1 from leads l where ${domainOfLead} = ${domain} limit ${limit + 1}) capped`.execute(db);
  return Number(rows[0]?.n ?? 0);
}

/** Reps who own an open (pending or accepted) handoff of another lead at `domain`, the most recent first. */
export async function accountOwners(db: Db, domain: string, excludeLeadId: string): Promise<string[]> {
  const { rows } = await sql<{ rep_id: string }>`
    select h.rep_id from handoffs h join leads l on l.id = h.lead_id
    where ${domainOfLead} = ${domain} and h.status in ('pending', 'accepted') and h.lead_id <> ${excludeLeadId}
    order by h.created_at desc`.execute(db);
  return [...new Set(rows.map((row) => row.rep_id))];
}
