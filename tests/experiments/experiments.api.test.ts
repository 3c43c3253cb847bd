import express from 'express';
import request from 'supertest';
import { wilsonInterval } from '../../src/experiments/statistics.js';
import { experimentsRoutes } from '../../src/experiments/experiments.routes.js';
import { createExperimentsService, type ExperimentsService } from '../../src/experiments/experiments.service.js';
import { errorMiddleware, routeNotFound } from '../../src/platform/http/error-middleware.js';
import { createLogger } from '../../src/platform/logger.js';
import type { Sequence, Step } from '../../src/sequences/sequence.js';
import { startExperimentWork } from '../../src/worker-loops.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';

/*
 * GET /api/sequences/:id/experiments and the winner rule, on a real database (PGlite, or the
 * server with DATABASE_URL): assignment rows, leads, events, enrollments, score history and
 * handoffs inserted as the engine, tracking and scoring would write them. Machine opens and
 * clicks, events before the assignment and goals of other sequences must not count.
 */

const SEQUENCE_ID = 'subject-lines';
let database: TestDatabase;
let service: ExperimentsService;
let api: ReturnType<typeof request>;

/*
 * This branch has no `split` step type yet (the engine adds it); the sequence is built as the
 * engine's loader will build it, and `experimentsOf` reads the raw step. The one cast is here.
 */
function sequenceWithSplits(id = SEQUENCE_ID): Sequence {
  const splitStep = (id: string, split: unknown) => ({ id, kind: 'split', line: 1, split }) as unknown as Step;
  return {
    id,
    name: 'Subject line test',
    version: 1,
    description: '',
    status: 'active',
    priority: 0,
    entry: { trigger: { type: 'manual' }, conditions: [], reentry: 'never' },
    goals: [{ event: 'form_submit' }],
    sendWindow: null,
    steps: [
      splitStep('subject-test', {
        arms: [
          { id: 'short', weight: 50, next: 'email-short' },
          { id: 'long', weight: 50, next: 'email-long' },
        ],
        winner: { metric: 'click', after: 100, minProbability: 0.95 },
      }),
      splitStep('cta-test', {
        arms: [
          { id: 'button', weight: 70, next: 'end' },
          { id: 'link', weight: 30, next: 'end' },
        ],
        winner: { metric: 'goal', after: 500, minProbability: 0.95 },
      }),
      { id: 'end', kind: 'end', line: 2 },
    ],
    file: 'subject-lines.yaml',
    hash: 'test',
    // The engine's `holdout: 10%`, as a fraction.
    ...{ holdout: 0.1 },
  };
}

const query = async (text: string, values: unknown[] = []) => (await database.pool.query(text, values)).rows as Array<Record<string, unknown>>;

async function leads(prefix: string, count: number): Promise<string[]> {
  const rows = await query(`insert into leads (email) select $1 || '-' || g || '@exp.test' from generate_series(1, $2::int) g returning id`, [prefix, count]);
  return rows.map((row) => String(row.id));
}
const assign = (ids: string[], stepId: string, armId: string, sequenceId = SEQUENCE_ID) =>
  query(
    `insert into experiment_assignments (lead_id, sequence_id, step_id, arm_id, assigned_at) select unnest($1::uuid[]), $2, $3, $4, now() - interval '1 day'`,
    [ids, sequenceId, stepId, armId],
  );
const events = (ids: string[], type: string, machine: boolean, ago = '1 hour') =>
  query(`insert into events (lead_id, type, properties, occurred_at) select unnest($1::uuid[]), $2, $3::jsonb, now() - $4::interval`, [
    ids,
    type,
    JSON.stringify({ sendId: 'x', machine }),
    ago,
  ]);
const converted = (ids: string[], sequenceId = SEQUENCE_ID) =>
  query(
    `insert into enrollments (lead_id, sequence_id, sequence_version, status, ended_at, entered_at) select unnest($1::uuid[]), $2, 1, 'converted', now() - interval '2 hours', now() - interval '1 day'`,
    [ids, sequenceId],
  );
const handoffs = (ids: string[], ago = '3 hours') =>
  query(
    `insert into handoffs (lead_id, rep_id, assignment, score, briefing, status, created_at) select unnest($1::uuid[]), 'alex', '{}', '{}', '{}', 'rejected', now() - $2::interval`,
    [ids, ago],
  );
const scoreHistory = (ids: string[], stage: string, ago: string) =>
  query(
    `insert into score_history (lead_id, total, engagement, fit, grade, stage, cause, at) select unnest($1::uuid[]), 60, 60, 0, 'B', $2, 'event', now() - $3::interval`,
    [ids, stage, ago],
  );
const becameMql = async (ids: string[]) => {
  await scoreHistory(ids, 'lead', '5 hours');
  await scoreHistory(ids, 'mql', '4 hours');
};

let short: string[];
let long: string[];
let held: string[];

beforeAll(async () => {
  database = await createTestDatabase();
  const logger = createLogger('silent');
  service = createExperimentsService({ db: database.db, sequences: () => [sequenceWithSplits()], logger });
  api = request(express().use('/api', experimentsRoutes(service)).use(routeNotFound).use(errorMiddleware(logger)));

  short = await leads('short', 120);
  long = await leads('long', 120);
  held = await leads('held', 20);
  await assign(short, 'subject-test', 'short');
  await assign(long, 'subject-test', 'long');
  // Treatment: everyone in the split; holdout: 20 leads that never reach it.
  await assign([...short, ...long], '$holdout', 'treatment');
  await assign(held, '$holdout', 'holdout');
  // A split an edit removed: its rows stay and show.
  await assign(short.slice(0, 40), 'old-test', 'a');

  await events(short.slice(0, 12), 'email_clicked', false);
  await events(short.slice(12, 72), 'email_clicked', true); // link scanners
  await events(short.slice(0, 30), 'email_opened', false);
  await events(short.slice(0, 30), 'email_opened', false, '2 hours'); // a second open: still one lead
  await events(short.slice(30, 100), 'email_opened', true); // Apple privacy prefetch
  await events(short.slice(100, 110), 'email_opened', false, '2 days'); // before assignment
  await events(long.slice(0, 36), 'email_clicked', false);
  await events(long.slice(0, 50), 'email_opened', false);

  await converted(short.slice(0, 6));
  await converted(short.slice(6, 9), 'another-sequence');
  await converted(long.slice(0, 10));
  await converted(held.slice(0, 3));

  await handoffs(short.slice(0, 2));
  await handoffs(short.slice(110, 111), '3 days'); // before assignment
  await handoffs(long.slice(0, 4));
  await becameMql(short.slice(2, 5));
  // Already an MQL before its assignment; its score moves after it, still at mql: not a new MQL.
  await scoreHistory(short.slice(111, 112), 'mql', '2 days');
  await scoreHistory(short.slice(111, 112), 'mql', '1 hour');
  await handoffs(held.slice(0, 1));
}, 120_000);

afterAll(async () => {
  await database?.drop();
});

interface ArmJson {
  armId: string;
  entered: number;
  successes: number;
  rate: number;
  interval: { low: number; high: number } | null;
  probabilityBest: number | null;
  inSplit: boolean;
}
interface MetricJson {
  metric: string;
  arms: ArmJson[];
  verdict: { kind: string; armId?: string; armsShort?: string[] };
}
const figures = (metrics: MetricJson[], metric: string) =>
  Object.fromEntries((metrics.find((entry) => entry.metric === metric)?.arms ?? []).map((arm) => [arm.armId, `${arm.successes}/${arm.entered}`]));

describe('GET /api/sequences/:id/experiments', () => {
  it('counts per arm what leads did after assignment: human opens and clicks, goals, MQLs and handoffs', async () => {
    const res = await api.get(`/api/sequences/${SEQUENCE_ID}/experiments`).expect(200);
    expect(res.body.sequence).toEqual({ id: SEQUENCE_ID, name: 'Subject line test', holdout: 0.1 });
    const [subject, cta, old] = res.body.splits as Array<{
      stepId: string;
      inSequence: boolean;
      entered: number;
      metrics: MetricJson[];
      guard: { minimumPerArm: number };
      winner: unknown;
    }>;
    expect(subject?.stepId).toBe('subject-test');
    expect(subject?.entered).toBe(240);
    const metrics = subject?.metrics ?? [];
    expect(figures(metrics, 'open')).toEqual({ short: '30/120', long: '50/120' });
    expect(figures(metrics, 'click')).toEqual({ short: '12/120', long: '36/120' });
    expect(figures(metrics, 'goal')).toEqual({ short: '6/120', long: '10/120' });
    expect(figures(metrics, 'mql')).toEqual({ short: '5/120', long: '4/120' });
    expect(figures(metrics, 'handoff')).toEqual({ short: '2/120', long: '4/120' });

    const clicks = metrics.find((entry) => entry.metric === 'click');
    const longClicks = clicks?.arms.find((arm) => arm.armId === 'long');
    expect(longClicks?.interval).toEqual(wilsonInterval({ successes: 36, trials: 120 }));
    expect(longClicks?.probabilityBest).toBeGreaterThan(0.999);
    expect(clicks?.verdict).toEqual({ kind: 'leader', armId: 'long', probability: longClicks?.probabilityBest, needed: 0.95 });
    expect(subject?.guard.minimumPerArm).toBe(100);
    expect(subject?.winner).toBeNull();

    // Nobody reached the second split: too early, whatever the numbers.
    expect(cta?.stepId).toBe('cta-test');
    expect(cta?.metrics.find((entry) => entry.metric === 'goal')?.verdict).toEqual({
      kind: 'too_few_entrants',
      minimumPerArm: 500,
      armsShort: ['button', 'link'],
    });
    expect(old).toMatchObject({ stepId: 'old-test', inSequence: false, entered: 40 });
  });

  it("compares the treatment with the holdout group, counting a holdout lead's goal in the holdout row", async () => {
    const res = await api.get(`/api/sequences/${SEQUENCE_ID}/experiments`).expect(200);
    const goal = (
      res.body.holdout.metrics as Array<{ metric: string; holdout: ArmJson; treatment: ArmJson; lift: { difference: number; low: number; high: number } }>
    ).find((entry) => entry.metric === 'goal');
    expect(res.body.holdout.share).toBe(0.1);
    expect(goal?.holdout).toMatchObject({ armId: 'holdout', entered: 20, successes: 3 });
    expect(goal?.treatment).toMatchObject({ armId: 'treatment', entered: 240, successes: 16 });
    expect(goal?.lift.difference).toBeCloseTo(16 / 240 - 3 / 20, 12);
    expect(goal?.lift.low).toBeLessThan(goal?.lift.difference ?? 0);
    const handoff = (res.body.holdout.metrics as Array<{ metric: string; holdout: ArmJson }>).find((entry) => entry.metric === 'handoff');
    expect(handoff?.holdout.successes).toBe(1);
  });

  it('answers 404 for an unknown sequence and 400 naming the field for a bad id or query', async () => {
    const missing = await api.get('/api/sequences/no-such-sequence/experiments').expect(404);
    expect(missing.body.error).toMatchObject({ code: 'sequence_not_found', details: [{ field: 'id', location: 'path' }] });
    const bad = await api.get('/api/sequences/Not%20An%20Id/experiments').expect(400);
    expect(bad.body.error).toMatchObject({
      code: 'validation_failed',
      details: [{ field: 'id', location: 'path', message: expect.stringContaining('not a sequence id') }],
    });
    const typo = await api.get(`/api/sequences/${SEQUENCE_ID}/experiments?metrc=click`).expect(400);
    expect(typo.body.error).toMatchObject({ code: 'validation_failed', details: [{ field: 'metrc', location: 'query' }] });
    for (const weird of ['%00', '%E0%A4%A', 'x'.repeat(300), '..%2F..%2Fetc', '%F0%9F%92%A9', 'subject-lines%0d%0a', 'SUBJECT-LINES']) {
      const res = await api.get(`/api/sequences/${weird}/experiments?metric=${weird}`);
      expect([400, 404]).toContain(res.status);
      expect(res.body.error.code).toEqual(expect.any(String));
    }
  });
});

describe('the winner rule', () => {
  it('records the winner once, with its figures and time, however many workers judge at once', async () => {
    const other = createExperimentsService({ db: database.db, sequences: () => [sequenceWithSplits()], logger: createLogger('silent') });
    const now = new Date('2026-12-08T02:00:00.000Z');
    const recorded = await Promise.all([service.judgeWinners(now), other.judgeWinners(now), service.judgeWinners(now)]);
    expect(recorded.reduce((sum, count) => sum + count, 0)).toBe(1);
    const rows = await query(`select sequence_id, step_id, arm_id, metric, probability, figures, decided_at from experiment_winners`);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ sequence_id: SEQUENCE_ID, step_id: 'subject-test', arm_id: 'long', metric: 'click', decided_at: now });
    expect(rows[0]?.figures).toMatchObject({
      metric: 'click',
      minimumPerArm: 100,
      arms: [
        { id: 'short', entered: 120, successes: 12 },
        { id: 'long', entered: 120, successes: 36 },
      ],
    });
    // The rule of cta-test (500 per arm) is not met: nothing recorded for it, and nothing more later.
    expect(await service.judgeWinners(new Date())).toBe(0);

    const res = await api.get(`/api/sequences/${SEQUENCE_ID}/experiments`).expect(200);
    expect(res.body.splits[0].winner).toMatchObject({ stepId: 'subject-test', armId: 'long', metric: 'click', decidedAt: now.toISOString() });
    expect(res.body.splits[0].winner.probability).toBeGreaterThan(0.999);
    expect(res.body.splits[1].winner).toBeNull();
  });
});

describe('the worker loop', () => {
  it('checks the winner rules as soon as a worker starts, and records the winner', async () => {
    const a = await leads('loop-a', 100);
    const b = await leads('loop-b', 100);
    await assign(a, 'subject-test', 'short', 'loop-test');
    await assign(b, 'subject-test', 'long', 'loop-test');
    await events(a.slice(0, 40), 'email_clicked', false);
    await events(b.slice(0, 5), 'email_clicked', false);
    const work = startExperimentWork(
      createExperimentsService({ db: database.db, sequences: () => [sequenceWithSplits('loop-test')], logger: createLogger('silent') }),
      createLogger('silent'),
    );
    try {
      const rows = await until(
        () => query(`select arm_id, metric from experiment_winners where sequence_id = 'loop-test'`),
        (found) => found.length > 0,
        30_000,
      );
      expect(rows).toEqual([{ arm_id: 'short', metric: 'click' }]);
    } finally {
      await work.stop();
    }
  });
});
