import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { FeedbackCounts } from './rates.js';

/*
 * Counts behind the rates, per sequence, per step and per recipient domain, over sends claimed
 * since `since`. Bounces and complaints come from the lead's events (written by the one recorder
 * and by the SMTP conversation), each counted once per send.
 */

type Db = Kysely<Database>;
type Row = { key: string; step_id?: string; handed: number; sent: number; hard: number; soft: number; complaints: number };

export type Grouping = 'sequence' | 'step' | 'domain';

export interface GroupCounts extends FeedbackCounts {
  sequenceId?: string;
  stepId?: string;
  domain?: string;
}

export async function feedbackCounts(db: Db, grouping: Grouping, since: Date, sequenceId: string | null = null): Promise<GroupCounts[]> {
  const key = grouping === 'domain' ? sql`split_part(lower(l.email), '@', 2)` : sql`e.sequence_id`;
  const step = grouping === 'step' ? sql`, s.step_id` : sql``;
  const leadsJoin = grouping === 'domain' ? sql`join leads l on l.id = s.lead_id` : sql``;
  const onlySequence = sequenceId === null ? sql`` : sql`and e.sequence_id = ${sequenceId}`;
  const { rows } = await sql<Row>`
    with scoped as (
      select s.id, s.lead_id, s.status, s.handed_at, ${key} as key ${step}
      from sends s join enrollments e on e.id = s.enrollment_id ${leadsJoin}
      where s.claimed_at >= ${since} ${onlySequence}
    ), feedback as (
      select ev.properties->>'sendId' as send_id,
        bool_or(ev.type = 'email_bounced' and ev.properties->>'bounce' = 'hard') as hard,
        bool_or(ev.type = 'email_bounced' and ev.properties->>'bounce' = 'soft') as soft,
        bool_or(ev.type = 'email_complained') as complained
      from events ev
      where ev.type in ('email_bounced', 'email_complained') and ev.lead_id in (select lead_id from scoped)
      group by ev.properties->>'sendId'
    )
    select sc.key ${grouping === 'step' ? sql`, sc.step_id` : sql``},
      count(*) filter (where sc.handed_at is not null)::int as handed,
      count(*) filter (where sc.status = 'sent')::int as sent,
      count(*) filter (where f.hard)::int as hard,
      count(*) filter (where f.soft and not coalesce(f.hard, false))::int as soft,
      count(*) filter (where f.complained)::int as complaints
    from scoped sc left join feedback f on f.send_id = sc.id::text
    group by sc.key ${grouping === 'step' ? sql`, sc.step_id` : sql``}
    order by sc.key ${grouping === 'step' ? sql`, sc.step_id` : sql``}`.execute(db);
  return rows.map((row) => ({
    ...(grouping === 'domain' ? { domain: row.key } : { sequenceId: row.key }),
    ...(grouping === 'step' ? { stepId: row.step_id } : {}),
    handed: row.handed,
    sent: row.sent,
    hardBounces: row.hard,
    softBounces: row.soft,
    complaints: row.complaints,
  }));
}
