import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

/*
 * Editing a live sequence: Baton restarts with a new version of the file. The enrollment waiting
 * at a step that still exists goes on under the new version and nothing is sent twice; the one
 * waiting at a removed step is parked and reported, not dropped.
 */

const API_KEY = 'edit-api-key-0123456789abcdef';

const VERSION_1 = `id: edits
name: Edited while live
version: 1
entry:
  trigger: { type: manual }
steps:
  - id: hello
    email: welcome
  - id: route
    branch:
      - if: { tag: b }
        then: wait-b
    else: wait-a
  - id: wait-a
    wait: 1h
    next: nudge
  - id: wait-b
    wait: 1h
  - id: nudge
    email: case-study
  - id: done
    end: true
`;

// wait-b is gone and wait-a is now two seconds long.
const VERSION_2 = `id: edits
name: Edited while live
version: 2
entry:
  trigger: { type: manual }
steps:
  - id: hello
    email: welcome
  - id: wait-a
    wait: 2s
  - id: nudge
    email: case-study
  - id: done
    end: true
`;

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton | null = null;

async function start(): Promise<{ baton: RunningBaton; api: ReturnType<typeof request> }> {
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_SEQUENCES_DIR: dir,
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'edit-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: 'https://baton.test',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  const started = await startBaton(config, createLogger('silent'));
  baton = started;
  return { baton: started, api: request(started.url ?? '') };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-edit-'));
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
});

afterAll(async () => {
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

const auth = { Authorization: `Bearer ${API_KEY}` };

it('continues enrollments at the same step id under the new version, and parks those whose step is gone', async () => {
  await writeFile(path.join(dir, 'edits.yaml'), VERSION_1);
  let { baton: running, api } = await start();
  const enrollmentRows = async () =>
    (
      await running.database.pool.query<{ email: string; status: string; current_step: string; sequence_version: number; exit_reason: string | null }>(
        'select l.email, e.status, e.current_step, e.sequence_version, e.exit_reason from enrollments e join leads l on l.id = e.lead_id order by l.email',
      )
    ).rows;
  const subjects = async (email: string) =>
    ((await api.get('/api/dev/mail').query({ to: email }).set(auth)).body.items as Array<{ subject: string }>).map((item) => item.subject).reverse();

  for (const [email, tags] of [
    ['a@example.com', []],
    ['b@example.com', ['b']],
  ] as const) {
    const lead = await api.post('/api/leads').set(auth).send({ email, firstName: 'Sam', tags });
    expect((await api.post('/api/sequences/edits/enroll').set(auth).send({ leadId: lead.body.id })).status).toBe(201);
  }
  const waiting = await until(enrollmentRows, (rows) => rows.every((row) => row.current_step.startsWith('wait-')));
  expect(waiting.map((row) => [row.email, row.current_step, row.sequence_version])).toEqual([
    ['a@example.com', 'wait-a', 1],
    ['b@example.com', 'wait-b', 1],
  ]);
  await running.stop();

  await writeFile(path.join(dir, 'edits.yaml'), VERSION_2);
  ({ baton: running, api } = await start());

  expect(
    await until(
      () => subjects('a@example.com'),
      (found) => found.length >= 2,
    ),
  ).toEqual(['Welcome, Sam: your pipeline playbook', 'How Northwind doubled sales-accepted leads in a quarter']);
  const ended = await until(enrollmentRows, (rows) => rows[0]?.status === 'completed');
  expect(ended).toEqual([
    { email: 'a@example.com', status: 'completed', current_step: 'done', sequence_version: 2, exit_reason: 'end step' },
    { email: 'b@example.com', status: 'parked', current_step: 'wait-b', sequence_version: 1, exit_reason: 'step wait-b no longer exists in edits version 2' },
  ]);
  expect(await subjects('b@example.com')).toEqual(['Welcome, Sam: your pipeline playbook']);

  const stats = await api.get('/api/sequences/edits/stats').set(auth);
  expect(stats.body.totals).toMatchObject({ entered: 2, completed: 1, parked: 1 });
  expect(stats.body.steps).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ id: 'hello', sent: 2 }),
      expect.objectContaining({ id: 'wait-b', removed: true, parked: 1 }),
      expect.objectContaining({ id: 'route', removed: true, entered: 2 }),
    ]),
  );
}, 120_000);
