import { sql, type Kysely, type RawBuilder } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { Grouping, ReportQuery } from './report-window.js';

/*
 * The funnel's SQL, over the rollups of migration 0021 (funnel_leads, funnel_handoffs): one scan
 * of the cohort per section. The grouping key is chosen from a fixed list, never from input.
 */

type Db = Kysely<Database>;

export const NO_KEY = '(none)';

/** One row per group (and one with key null: everyone), as the database computed it. */
export interface StageCountsRow {
  key: string | null;
  subscribers: number;
  leads: number;
  mqls: number;
  sqls: number;
  customers: number;
  recycled: number;
  disqualified: number;
  subscriber_time: number[] | null;
  lead_time: number[] | null;
  mql_time: number[] | null;
  sql_time: number[] | null;
}

export interface CreditRow {
  key: string;
  stage: 'mql' | 'sql' | 'customer';
  first: number;
  last: number;
  linear: number;
}

function keyOf(by: Grouping | null, timeZone: string): RawBuilder<string> {
  switch (by) {
    case null:
      return sql<string>`${NO_KEY}::text`;
    case 'source':
      return sql<string>`coalesce(f.source, ${NO_KEY})`;
    case 'rep':
      return sql<string>`coalesce(f.rep_id, ${NO_KEY})`;
    case 'month':
      return sql<string>`to_char(f.created_at at time zone ${timeZone}, 'YYYY-MM')`;
    case 'sequence':
      return sql<string>`s.key`;
  }
}

/** The cohort, one row per lead and group (a lead is in every sequence it entered). */
function cohort(query: ReportQuery): RawBuilder<unknown> {
  const unnest =
    query.by === 'sequence'
      ? sql`cross join lateral unnest(case when cardinality(f.sequences) = 0 then array[${NO_KEY}::text] else f.sequences end) as s(key)`
      : sql``;
  return sql`select ${keyOf(query.by, query.timeZone)} as key, f.* from funnel_leads f ${unnest}
    where f.created_at >= ${query.from} and f.created_at < ${query.to}`;
}

const seconds = (end: string, start: string) => sql.raw(`percentile_cont(array[0.5, 0.9]) within group (order by extract(epoch from ${end} - ${start}))`);

/**
 * Stage counts and times per group, and the row of everyone (key null). By source, rep or month
 * a lead is in one group, so everyone comes from the same scan (grouping sets, where the empty
 * set's key is null); by sequence a lead counts in several, so everyone is counted apart.
 */
export async function stageCounts(db: Db, query: ReportQuery): Promise<StageCountsRow[]> {
  const select = (source: RawBuilder<unknown>, grouping: RawBuilder<unknown>) => sql<StageCountsRow>`
    select key,
      count(*)::int as subscribers,
      count(coalesce(lead_at, mql_at, sql_at, customer_at))::int as leads,
      count(coalesce(mql_at, sql_at, customer_at))::int as mqls,
      count(coalesce(sql_at, customer_at))::int as sqls,
      count(customer_at)::int as customers,
      count(recycled_at)::int as recycled,
      count(disqualified_at)::int as disqualified,
      ${seconds('subscriber_left_at', 'created_at')} as subscriber_time,
      ${seconds('lead_left_at', 'lead_at')} as lead_time,
      ${seconds('mql_left_at', 'mql_at')} as mql_time,
      ${seconds('sql_left_at', 'sql_at')} as sql_time
    from (${source}) c ${grouping}`;
  const everyoneOnly = sql`select null::text as key, f.* from funnel_leads f where f.created_at >= ${query.from} and f.created_at < ${query.to}`;
  if (query.by === null) return (await select(everyoneOnly, sql`group by key`).execute(db)).rows;
  if (query.by === 'sequence') {
    const groups = await select(cohort(query), sql`group by key`).execute(db);
    const everyone = await select(everyoneOnly, sql`group by key`).execute(db);
    return [...groups.rows, ...everyone.rows];
  }
  return (await select(cohort(query), sql`group by grouping sets ((key), ())`).execute(db)).rows;
}

/** Converted value per group and currency (key null: everyone). */
export async function valuesByCurrency(db: Db, query: ReportQuery): Promise<Array<{ key: string | null; currency: string; value: string }>> {
  const { rows } = await sql<{ key: string | null; currency: string; value: string }>`
    select key, deal_currency as currency, sum(deal_value)::text as value from (${cohort(query)}) c
    where deal_value is not null group by grouping sets ((key, deal_currency), (deal_currency))`.execute(db);
  if (query.by !== 'sequence') return rows;
  // By sequence, everyone's total counts each lead once.
  const keyed = rows.filter((row) => row.key !== null);
  const everyone = await sql<{ key: null; currency: string; value: string }>`
    select null as key, deal_currency as currency, sum(deal_value)::text as value from funnel_leads
    where created_at >= ${query.from} and created_at < ${query.to} and deal_value is not null group by deal_currency`.execute(db);
  return [...keyed, ...everyone.rows];
}

/** Rejection reasons of the cohort's handoffs, per group (key null: everyone). */
export async function rejectionReasons(db: Db, query: ReportQuery): Promise<Array<{ key: string | null; reason: string; count: number }>> {
  const reason = sql`coalesce(nullif(h.reject_reason, ''), '(none given)')`;
  const { rows } = await sql<{ key: string | null; reason: string; count: number }>`
    select c.key, ${reason} as reason, count(*)::int as count from (${cohort(query)}) c join funnel_handoffs h on h.subject = c.subject
    where h.rejected_at is not null group by grouping sets ((c.key, ${reason}), (${reason}))`.execute(db);
  if (query.by !== 'sequence') return rows;
  const everyone = await sql<{ key: null; reason: string; count: number }>`
    select null as key, ${reason} as reason, count(*)::int as count from funnel_leads f join funnel_handoffs h on h.subject = f.subject
    where f.created_at >= ${query.from} and f.created_at < ${query.to} and h.rejected_at is not null group by ${reason}`.execute(db);
  return [...rows.filter((row) => row.key !== null), ...everyone.rows];
}

/**
 * Credit per sequence for the cohort's MQLs, SQLs and customers, by the attribution taken at
 * each lead's first handoff: first (the first sequence it entered), last (the sequence of the
 * last human touch) and linear (1/n to each of the n sequences it had entered).
 */
export async function sequenceCredits(db: Db, query: ReportQuery): Promise<CreditRow[]> {
  const { rows } = await sql<{ key: string; stage: CreditRow['stage']; first: number; last: number; linear: number }>`
    select t.key, st.stage,
      count(*) filter (where t.position = 1)::int as first,
      count(*) filter (where t.key = f.last_touch ->> 'sequence')::int as last,
      coalesce(sum(1.0 / t.n), 0)::float8 as linear
    from funnel_leads f
    cross join lateral (select key, position, cardinality(f.touched_sequences) as n from unnest(f.touched_sequences) with ordinality as u(key, position)) t
    cross join lateral (values ('mql', coalesce(f.mql_at, f.sql_at, f.customer_at)), ('sql', coalesce(f.sql_at, f.customer_at)), ('customer', f.customer_at)) as st(stage, reached)
    where f.created_at >= ${query.from} and f.created_at < ${query.to} and st.reached is not null
    group by t.key, st.stage`.execute(db);
  return rows.map((row) => ({ ...row, linear: Number(row.linear) }));
}

export interface RepRow {
  rep: string;
  handoffs: number;
  accepted: number;
  converted: number;
  rejected: number;
  median_accept_seconds: number | null;
  breaches: number;
}

/** Per rep, over the handoffs made in the period: decisions, time to accept, SLA breaches. */
export async function repStats(db: Db, query: ReportQuery): Promise<RepRow[]> {
  const { rows } = await sql<RepRow>`
    with period as (select * from funnel_handoffs where created_at >= ${query.from} and created_at < ${query.to}),
    breaches as (select b.rep, count(*)::int as breaches from period, unnest(breached_by) as b(rep) group by b.rep),
    decisions as (
      select rep_id as rep, count(*)::int as handoffs,
        count(*) filter (where accepted_at is not null or converted_at is not null)::int as accepted,
        count(converted_at)::int as converted, count(rejected_at)::int as rejected,
        percentile_cont(0.5) within group (order by extract(epoch from accepted_at - created_at)) as median_accept_seconds
      from period group by rep_id)
    select coalesce(d.rep, b.rep) as rep, coalesce(d.handoffs, 0) as handoffs, coalesce(d.accepted, 0) as accepted, coalesce(d.converted, 0) as converted,
      coalesce(d.rejected, 0) as rejected, d.median_accept_seconds, coalesce(b.breaches, 0) as breaches
    from decisions d full join breaches b on b.rep = d.rep order by 1`.execute(db);
  return rows;
}

export async function repValues(db: Db, query: ReportQuery): Promise<Array<{ rep: string; currency: string; value: string }>> {
  const { rows } = await sql<{ rep: string; currency: string; value: string }>`
    select rep_id as rep, deal_currency as currency, sum(deal_value)::text as value from funnel_handoffs
    where created_at >= ${query.from} and created_at < ${query.to} and deal_value is not null group by rep_id, deal_currency`.execute(db);
  return rows;
}
