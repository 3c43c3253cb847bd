import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { openDatabase, type DatabaseHandle } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/logger.js';
import type { FunnelGroup, FunnelReport } from '../../src/reporting/funnel.service.js';
import { createServices, type Services } from '../../src/services.js';
import { expectedFunnel, expectedReps, interpolatedPercentile, wilsonInterval, type ExpectedGroup } from '../helpers/funnel-expected.js';
import { loadHistory, planHistory, type PlannedLead } from '../helpers/funnel-history.js';
import { CommandFailed, endStartedProcesses, runCommand } from '../helpers/process-group.js';
import { createTestDatabase, SERVER_URL, type TestDatabase } from '../helpers/test-database.js';

/*
 * The funnel report against a seeded history of 600 leads over six months (plus a few written
 * by hand around a DST change), checked against the same figures worked out in plain JS from the
 * plan: GET /api/reports/funnel and `baton report funnel` (a real process) must both agree.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const API_KEY = 'reporting-api-key-0123456789abcdef';
const PERIOD = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-07-01T00:00:00Z') };
const HOUR = 3_600_000;

// Around the spring-forward night in Paris (2025-03-30, 02:00 → 03:00): noon to noon is 23 hours.
const dstLeads: PlannedLead[] = [0, 1, 2].map((index) => ({
  email: `dst${index}@example.fr`,
  source: 'salon',
  createdAt: new Date(Date.UTC(2025, 2, 20, 9 + index)),
  visit: null,
  enrollments: [],
  erase: false,
  stages: [
    { to: 'mql', at: new Date('2025-03-29T11:00:00Z') },
    { to: 'sql', at: new Date('2025-03-30T10:00:00Z') },
  ],
  handoffs: [
    { rep: 'alex', at: new Date('2025-03-29T11:00:00Z'), remindedAt: null, reassigned: null, acceptedAt: new Date('2025-03-30T10:00:00Z'), closed: null },
  ],
}));
// 23:30 on March 31 in UTC is 01:30 on April 1 in Paris.
dstLeads.push({
  email: 'late@example.fr',
  source: 'salon',
  createdAt: new Date('2025-03-31T23:30:00Z'),
  visit: null,
  enrollments: [],
  erase: false,
  stages: [],
  handoffs: [],
});

const plan = [...planHistory(17, 600, PERIOD), ...dstLeads];
let dir: string;
let server: TestDatabase | null = null;
let database: DatabaseHandle;
let services: Services;
let api: ReturnType<typeof request>;
let ids: string[];
const erasedIds: string[] = [];
let closed = false;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-reporting-'));
  if (SERVER_URL) server = await createTestDatabase({ migrated: false });
  database = await openDatabase({ url: server?.url ?? null, embeddedDir: dir, poolSize: 4 });
  await migrate(database.pool);
  ids = await loadHistory(database.pool, plan);
  const logger = createLogger('silent');
  services = await createServices(database.db, { secret: 'reporting-secret-0123456789abcdef0123', publicUrl: 'https://baton.test', logger });
  // GDPR erasure through the service the API uses: its rows must stay in the counts, without identity.
  for (const [index, lead] of plan.entries()) {
    if (!lead.erase) continue;
    const id = ids[index] ?? '';
    expect(await services.leads.erase(id)).toBe(true);
    erasedIds.push(id);
  }
  api = request(createApp({ apiKey: API_KEY, companyName: 'Acme', logger, services, pingDatabase: database.ping }));
}, 240_000);

afterEach(endStartedProcesses);
afterAll(async () => {
  if (!closed) {
    await services?.tracking.close();
    await database?.close();
  }
  await server?.drop();
  await rm(dir, { recursive: true, force: true });
});

const report = async (query: Record<string, string>): Promise<FunnelReport> => {
  const res = await api
    .get('/api/reports/funnel')
    .query(query)
    .set({ Authorization: `Bearer ${API_KEY}` });
  expect(res.status).toBe(200);
  return res.body as FunnelReport;
};

/** One group of the report against the same group worked out from the plan. */
function expectAgreement(actual: FunnelGroup | undefined, expected: ExpectedGroup | undefined, label: string) {
  if (!actual || !expected) throw new Error(`${label}: missing (${actual ? 'expected' : 'reported'})`);
  expect({ label, stages: actual.stages, recycled: actual.recycled, disqualified: actual.disqualified }).toEqual({
    label,
    stages: expected.stages,
    recycled: expected.recycled,
    disqualified: expected.disqualified,
  });
  for (const conversion of actual.conversions) {
    const interval = wilsonInterval(expected.stages[conversion.to], expected.stages[conversion.from]);
    if (!interval) {
      expect(conversion.rate).toBeNull();
      continue;
    }
    expect(conversion.rate).toBeCloseTo(expected.stages[conversion.to] / expected.stages[conversion.from], 4);
    expect(conversion.low).toBeCloseTo(interval[0], 4);
    expect(conversion.high).toBeCloseTo(interval[1], 4);
  }
  for (const stage of ['subscriber', 'lead', 'mql', 'sql'] as const) {
    const median = interpolatedPercentile(expected.times[stage], 0.5);
    const p90 = interpolatedPercentile(expected.times[stage], 0.9);
    if (median === null) expect(actual.timeInStage[stage].medianSeconds).toBeNull();
    else expect(actual.timeInStage[stage].medianSeconds).toBeCloseTo(median, 2);
    if (p90 === null) expect(actual.timeInStage[stage].p90Seconds).toBeNull();
    else expect(actual.timeInStage[stage].p90Seconds).toBeCloseTo(p90, 2);
  }
  expect(Object.keys(actual.value).sort()).toEqual(Object.keys(expected.value).sort());
  for (const [currency, value] of Object.entries(expected.value)) expect(actual.value[currency]).toBeCloseTo(value, 2);
  expect(Object.fromEntries(actual.rejections.map((entry) => [entry.reason, entry.count]))).toEqual(expected.rejections);
}

describe('GET /api/reports/funnel over a seeded history', () => {
  it('holds a history big enough to mean something', () => {
    const inPeriod = plan.filter((lead) => lead.createdAt >= PERIOD.from && lead.createdAt < PERIOD.to);
    expect(inPeriod.length).toBeGreaterThanOrEqual(500);
    expect(inPeriod.filter((lead) => lead.stages.some((stage) => stage.to === 'customer')).length).toBeGreaterThan(30);
    expect(inPeriod.filter((lead) => lead.handoffs.some((handoff) => handoff.closed?.status === 'rejected')).length).toBeGreaterThan(30);
    expect(erasedIds.length).toBeGreaterThan(5);
  });

  it.each([['source'], ['sequence'], ['rep'], ['month']] as const)('agrees with the plan, by %s', async (by) => {
    const body = await report({ from: '2026-01-01', to: '2026-06-30', by });
    const expected = expectedFunnel(plan, PERIOD, by);
    expectAgreement(body.total, expected.total, 'total');
    expect(body.groups.map((group) => group.key).sort()).toEqual([...expected.groups.keys()].sort());
    for (const group of body.groups) expectAgreement(group, expected.groups.get(group.key), group.key);
    if (by === 'sequence') {
      for (const group of body.groups) {
        const credit = expected.groups.get(group.key)?.credit;
        if (group.key === '(none)') continue;
        for (const stage of ['mql', 'sql', 'customer'] as const) {
          expect({ key: group.key, stage, first: group.credit?.[stage].first, last: group.credit?.[stage].last }).toEqual({
            key: group.key,
            stage,
            first: credit?.[stage].first,
            last: credit?.[stage].last,
          });
          expect(group.credit?.[stage].linear).toBeCloseTo(credit?.[stage].linear ?? -1, 3);
        }
      }
    }
    if (by === 'rep') {
      const reps = expectedReps(plan, PERIOD);
      expect(body.reps?.map((rep) => rep.rep).sort()).toEqual([...reps.keys()].sort());
      for (const rep of body.reps ?? []) {
        const line = reps.get(rep.rep);
        expect({
          rep: rep.rep,
          handoffs: rep.handoffs,
          accepted: rep.accepted,
          converted: rep.converted,
          rejected: rep.rejected,
          slaBreaches: rep.slaBreaches,
        }).toEqual({
          rep: rep.rep,
          handoffs: line?.handoffs,
          accepted: line?.accepted,
          converted: line?.converted,
          rejected: line?.rejected,
          slaBreaches: line?.breaches,
        });
        expect(rep.medianSecondsToAccept).toBeCloseTo(interpolatedPercentile(line?.acceptSeconds ?? [], 0.5) ?? -1, 2);
        for (const [currency, value] of Object.entries(line?.value ?? {})) expect(rep.value[currency]).toBeCloseTo(value, 2);
      }
    }
  });

  it('groups months in the zone asked for', async () => {
    const body = await report({ from: '2026-01-01', to: '2026-06-30', by: 'month', tz: 'America/New_York' });
    const window = { from: new Date('2026-01-01T05:00:00Z'), to: new Date('2026-07-01T04:00:00Z') };
    expect(body.from).toBe(window.from.toISOString());
    expect(body.to).toBe(window.to.toISOString());
    const expected = expectedFunnel(plan, window, 'month', 'America/New_York');
    for (const group of body.groups) expectAgreement(group, expected.groups.get(group.key), group.key);
    const paris = await report({ from: '2025-03-01', to: '2025-04-30', by: 'month', tz: 'Europe/Paris' });
    const utc = await report({ from: '2025-03-01', to: '2025-04-30', by: 'month', tz: 'UTC' });
    expect(paris.groups.map((group) => [group.key, group.stages.subscriber])).toEqual([
      ['2025-03', 3],
      ['2025-04', 1],
    ]);
    expect(utc.groups.map((group) => [group.key, group.stages.subscriber])).toEqual([['2025-03', 4]]);
  });

  it('measures time in a stage in real elapsed time across a DST change (noon to noon is 23 hours)', async () => {
    const body = await report({ from: '2025-03-01', to: '2025-03-31', tz: 'Europe/Paris' });
    expect(body.total.stages).toMatchObject({ subscriber: 3, mql: 3, sql: 3 });
    expect(body.total.timeInStage.mql).toEqual({ medianSeconds: (23 * HOUR) / 1000, p90Seconds: (23 * HOUR) / 1000 });
  });

  it('keeps erased leads in the counts, with nothing that leads back to them', async () => {
    const sql = (text: string, values: unknown[]) => database.pool.query(text, values);
    expect(
      (await sql('select count(*)::int as n from lifecycle_changes where lead_id = any($1::uuid[]) or subject = any($1::uuid[])', [erasedIds])).rows[0],
    ).toEqual({ n: 0 });
    expect(
      (await sql('select count(*)::int as n from funnel_leads where lead_id = any($1::uuid[]) or subject = any($1::uuid[])', [erasedIds])).rows[0],
    ).toEqual({ n: 0 });
    expect((await sql('select count(*)::int as n from funnel_handoffs where subject = any($1::uuid[])', [erasedIds])).rows[0]).toEqual({ n: 0 });
    const erasedEmails = plan.filter((lead) => lead.erase).map((lead) => lead.email);
    const everything = JSON.stringify(
      (
        await sql(
          'select (select json_agg(c) from lifecycle_changes c) as a, (select json_agg(f) from funnel_leads f) as b, (select json_agg(h) from funnel_handoffs h) as c',
          [],
        )
      ).rows,
    );
    for (const email of erasedEmails) expect(everything).not.toContain(email);
    // Their stage history is still there, under keys of its own.
    expect((await sql('select count(distinct subject)::int as n from funnel_leads where lead_id is null', [])).rows[0]).toEqual({ n: erasedIds.length });
  });

  it.each([
    [{ by: 'channel' }, 'by'],
    [{ from: '2026-02-30' }, 'from'],
    [{ from: 'last week' }, 'from'],
    [{ to: '2026-01-01T00:00:00' }, 'to'],
    [{ from: '2026-06-01', to: '2026-01-01' }, 'to'],
    [{ tz: 'Mars/Olympus_Mons' }, 'tz'],
    [{ group: 'source' }, 'group'],
  ])('answers 400 naming the parameter for %j', async (query, field) => {
    const res = await api
      .get('/api/reports/funnel')
      .query(query)
      .set({ Authorization: `Bearer ${API_KEY}` });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('validation_failed');
    expect(res.body.error.details).toEqual([expect.objectContaining({ field, location: 'query' })]);
    expect(res.body.error.message).toContain(field);
  });

  it('refuses a parameter given twice', async () => {
    const res = await api.get('/api/reports/funnel?by=source&by=rep').set({ Authorization: `Bearer ${API_KEY}` });
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].field).toBe('by');
  });
});

describe('baton report funnel', () => {
  const cli = (args: string[]) =>
    runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'report', 'funnel', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BATON_DATA_DIR: dir, ...(server?.url ? { DATABASE_URL: server.url } : {}) },
    });

  // The embedded database is held by one process at a time: the CLI's turn comes after the API's.
  beforeAll(async () => {
    closed = true;
    await services.tracking.close();
    await database.close();
  });

  it("gives the API's report as JSON, and the same figures as CSV and as a table", async () => {
    const expected = expectedFunnel(plan, PERIOD, 'source');
    const json = JSON.parse((await cli(['--from', '2026-01-01', '--to', '2026-06-30', '--by', 'source', '--json'])).stdout) as FunnelReport;
    expectAgreement(json.total, expected.total, 'total');
    for (const group of json.groups) expectAgreement(group, expected.groups.get(group.key), group.key);

    const csv = parse((await cli(['--from', '2026-01-01', '--to', '2026-06-30', '--by', 'source', '--csv'])).stdout, { columns: true }) as Array<
      Record<string, string>
    >;
    expect(csv.map((row) => row.group)).toEqual(['all', ...json.groups.map((group) => group.key)]);
    for (const row of csv) {
      const group = row.group === 'all' ? expected.total : expected.groups.get(row.group ?? '');
      expect([row.subscriber, row.lead, row.mql, row.sql, row.customer].map(Number)).toEqual([
        group?.stages.subscriber,
        group?.stages.lead,
        group?.stages.mql,
        group?.stages.sql,
        group?.stages.customer,
      ]);
      expect(Number(row.mql_median_seconds)).toBeCloseTo(interpolatedPercentile(group?.times.mql ?? [], 0.5) ?? -1, 2);
    }

    const table = (await cli(['--from', '2026-01-01', '--to', '2026-06-30', '--by', 'source'])).stdout;
    const totalLine = table.split('\n').find((text) => text.startsWith('all '));
    expect(
      totalLine
        ?.split(/\s{2,}/)
        .slice(1, 6)
        .map(Number),
    ).toEqual(['subscriber', 'lead', 'mql', 'sql', 'customer'].map((stage) => expected.total.stages[stage as 'mql']));
    expect(table).toContain('Salon Lyon — été');
  }, 120_000);

  it('exits 2 naming the option that is wrong', async () => {
    const failure = await cli(['--by', 'channel']).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(CommandFailed);
    expect((failure as CommandFailed).code).toBe(2);
    expect((failure as CommandFailed).stderr).toContain('--by');
  }, 60_000);
});
