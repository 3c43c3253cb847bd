import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { builtBaton } from '../helpers/built-baton.js';
import { endStartedProcesses, runCommand } from '../helpers/process-group.js';
import { createTestDatabase, SERVER_URL, type TestDatabase } from '../helpers/test-database.js';

/* `npm run baton -- score backtest` as a person runs it: a real process over a real database. */

const run = runCommand;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dir: string;
let server: TestDatabase | null = null;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-backtest-'));
  if (SERVER_URL) server = await createTestDatabase({ migrated: false });
  const database = await openDatabase({ url: server?.url ?? null, embeddedDir: dir, poolSize: 2 });
  try {
    await migrate(database.pool);
    const lead = async (email: string, title: string) =>
      (await database.pool.query<{ id: string }>('insert into leads (email, title) values ($1, $2) returning id', [email, title])).rows[0]?.id ?? '';
    const hot = await lead('hot@acme.test', 'VP Sales');
    const cold = await lead('cold@acme.test', 'VP Ops');
    await database.pool.query(
      `insert into events (lead_id, type, properties, occurred_at) values ($1, 'form_submit', '{"form":"demo"}', now() - interval '1 day'), ($2, 'page_view', '{"path":"/pricing"}', now() - interval '1 day')`,
      [hot, cold],
    );
    // Handed off half a day after the demo request, and converted.
    await database.pool.query(
      `insert into handoffs (lead_id, status, rep_id, assignment, score, briefing, created_at) values ($1, 'converted', 'alex', '{}', '{}', '{}', now() - interval '12 hours')`,
      [hot],
    );
  } finally {
    await database.close();
  }
  await writeFile(
    path.join(dir, 'scoring.yaml'),
    `behaviour:
  - { id: demo, event: form_submit, where: { form: demo }, points: 60 }
  - { id: pricing, event: page_view, where: { path: /pricing }, points: 30 }
lifecycle:
  mql: { engagement: 50 }
`,
  );
});

afterEach(endStartedProcesses);
afterAll(async () => {
  await server?.drop();
  await rm(dir, { recursive: true, force: true });
});

const cli = async (args: string[]) =>
  run(process.execPath, [...(await builtBaton('cli')), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BATON_DATA_DIR: dir, ...(server?.url ? { DATABASE_URL: server.url } : {}) },
  });

describe('baton score backtest', () => {
  it('replays stored events and reports, per threshold, MQLs, what sales made of them and how early customers would have come', async () => {
    const { stdout } = await cli(['score', 'backtest', '--scoring', path.join(dir, 'scoring.yaml'), '--thresholds', '25,50,70', '--json']);
    expect(JSON.parse(stdout)).toEqual({
      leads: 2,
      results: [
        { threshold: 25, wouldBeMql: 2, accepted: 1, converted: 1, rejected: 0, missedAccepted: 0, customers: 1, customersMissed: 0, medianDaysEarlier: 0.5 },
        { threshold: 50, wouldBeMql: 1, accepted: 1, converted: 1, rejected: 0, missedAccepted: 0, customers: 1, customersMissed: 0, medianDaysEarlier: 0.5 },
        { threshold: 70, wouldBeMql: 0, accepted: 0, converted: 0, rejected: 0, missedAccepted: 1, customers: 0, customersMissed: 1, medianDaysEarlier: null },
      ],
    });
  }, 60_000);

  it('explains its usage and refuses bad thresholds', async () => {
    await expect(cli(['score'])).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining('did you mean "score backtest"') as unknown });
    await expect(cli(['score', 'backtest', '--scoring', path.join(dir, 'scoring.yaml'), '--thresholds', '50,lots'])).rejects.toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--thresholds: "50,lots" must be positive numbers') as unknown,
    });
  }, 60_000);
});
