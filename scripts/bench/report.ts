/*
 * `npm run bench:report`: the funnel report by source over 1,000,000 leads on a PostgreSQL server
 * (target: under 1 s). It creates its own database (baton_bench_report, dropped and made again),
 * inserts the leads with generate_series (the triggers of migration 0021 give each its funnel row
 * and its first history row), then moves them through the stages in one UPDATE of the rollup
 * (firing a million stage changes one by one would take longer than the benchmark is worth), adds
 * their handoffs, and VACUUM ANALYZEs so the covering index serves an index-only scan.
 *
 * It times the report as the API computes it (ReportingService.funnel: stage counts and time in
 * stage, values, rejection reasons), RUNS times (default 7), and, in the same run, a baseline:
 * `count(*)` over the same cohort, so the ratio says what the report costs beyond reading it.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:report
 *   LEADS=200000 RUNS=5 npm run bench:report
 */
import pg from 'pg';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createReportingService } from '../../src/reporting/funnel.service.js';

const SERVER = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const LEADS = Number(process.env.LEADS ?? 1_000_000);
const RUNS = Number(process.env.RUNS ?? 7);
const NAME = 'baton_bench_report';
const TARGET_MS = 1000;

async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: SERVER });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const ms = (value: number) => `${value.toFixed(0)} ms`;

async function main(): Promise<void> {
  await admin(`drop database if exists ${NAME} with (force)`);
  await admin(`create database ${NAME}`);
  const url = new URL(SERVER);
  url.pathname = `/${NAME}`;
  const database = await openDatabase({ url: url.toString(), embeddedDir: 'memory', poolSize: 2 });
  try {
    await migrate(database.pool);
    const loading = performance.now();
    // Twelve months of leads, six sources (one in ten has none).
    await database.pool.query(
      `
      insert into leads (email, source, created_at, updated_at)
      select 'lead' || n || '@bench' || (n % 5000) || '.test',
        (array['google-ads', 'webinar', 'organic', 'linkedin', 'referral', 'salon', 'partner', 'events', 'content', null])[1 + n % 10],
        timestamptz '2026-01-01' + (n % 365) * interval '1 day' + (n % 86400) * interval '1 second',
        now()
      from generate_series(1, $1) as n`,
      [LEADS],
    );
    // The stages each lead reached, from a hash of its number: 60 % leads, 20 % MQLs, 10 % SQLs, 4 % customers.
    await database.pool.query(`
      update funnel_leads f set
        lead_at = case when h < 60 then f.created_at + (1 + h % 9) * interval '1 day' end,
        subscriber_left_at = case when h < 60 then f.created_at + (1 + h % 9) * interval '1 day' end,
        mql_at = case when h < 20 then f.created_at + (10 + h % 7) * interval '1 day' end,
        lead_left_at = case when h < 20 then f.created_at + (10 + h % 7) * interval '1 day' end,
        sql_at = case when h < 10 then f.created_at + (11 + h % 7) * interval '1 day' + (h % 13) * interval '1 hour' end,
        mql_left_at = case when h < 14 then f.created_at + (11 + h % 7) * interval '1 day' + (h % 13) * interval '1 hour' end,
        recycled_at = case when h between 10 and 13 then f.created_at + (11 + h % 7) * interval '1 day' end,
        customer_at = case when h < 4 then f.created_at + (40 + h) * interval '1 day' end,
        sql_left_at = case when h < 4 then f.created_at + (40 + h) * interval '1 day' end,
        deal_value = case when h < 4 then 1000 + h * 250 end,
        deal_currency = case when h < 4 then (array['EUR', 'USD'])[1 + h % 2] end,
        rep_id = case when h < 20 then (array['alex', 'sam', 'kim'])[1 + h % 3] end
      from (select subject, abs(hashtext(subject::text)) % 100 as h from funnel_leads) s
      where s.subject = f.subject`);
    await database.pool.query(`
      insert into funnel_handoffs (subject, rep_id, created_at, accepted_at, rejected_at, converted_at, reject_reason)
      select subject, rep_id, mql_at, sql_at, recycled_at, customer_at,
        case when recycled_at is not null then (array['no budget', 'student', 'competitor', ''])[1 + abs(hashtext(subject::text)) % 4] end
      from funnel_leads where mql_at is not null`);
    await database.pool.query('vacuum analyze funnel_leads');
    await database.pool.query('vacuum analyze funnel_handoffs');
    console.log(`${LEADS.toLocaleString('en')} leads loaded in ${((performance.now() - loading) / 1000).toFixed(0)} s`);

    const reporting = createReportingService(database.db);
    const query = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2027-01-01T00:00:00Z'), by: 'source' as const, timeZone: 'UTC' };
    const {
      rows: [plan],
    } = await database.pool.query<{ 'QUERY PLAN': string }>(
      `explain (format text) select count(*), percentile_cont(array[0.5, 0.9]) within group (order by extract(epoch from mql_left_at - mql_at))
      from funnel_leads where created_at >= $1 and created_at < $2 group by source`,
      [query.from, query.to],
    );
    const plans = await database.pool.query<{ 'QUERY PLAN': string }>(
      `explain select count(*) from funnel_leads f where created_at >= $1 and created_at < $2 group by coalesce(source, '(none)')`,
      [query.from, query.to],
    );
    console.log(
      `plan of the scan: ${
        plans.rows
          .map((row) => row['QUERY PLAN'].trim())
          .filter((line) => /Scan/.test(line))
          .join(' | ') || plan?.['QUERY PLAN']
      }`,
    );

    const reportMs: number[] = [];
    const baselineMs: number[] = [];
    let groups = 0;
    for (let run = 0; run < RUNS; run++) {
      const started = performance.now();
      const report = await reporting.funnel(query);
      reportMs.push(performance.now() - started);
      groups = report.groups.length;
      const baseline = performance.now();
      await database.pool.query('select count(*) from funnel_leads where created_at >= $1 and created_at < $2', [query.from, query.to]);
      baselineMs.push(performance.now() - baseline);
      console.log(`run ${run + 1}: report ${ms(reportMs[run] ?? 0)} (${groups} sources), baseline count(*) ${ms(baselineMs[run] ?? 0)}`);
    }
    const reportMedian = median(reportMs);
    const baselineMedian = median(baselineMs);
    console.log(
      `funnel by source over ${LEADS.toLocaleString('en')} leads: median ${ms(reportMedian)}, min ${ms(Math.min(...reportMs))}, max ${ms(Math.max(...reportMs))}`,
    );
    console.log(`baseline count(*) median ${ms(baselineMedian)}; report / baseline = ${(reportMedian / Math.max(1, baselineMedian)).toFixed(1)}×`);
    console.log(reportMedian < TARGET_MS ? `✓ under the ${TARGET_MS} ms target` : `✗ over the ${TARGET_MS} ms target`);
  } finally {
    await database.close();
    // KEEP=1 leaves the database for EXPLAIN ANALYZE by hand.
    if (!process.env.KEEP) await admin(`drop database if exists ${NAME} with (force)`);
  }
}

await main();
