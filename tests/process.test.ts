import http from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { endStartedProcesses, startBatonProcess } from './helpers/baton-process.js';
import { createTestDatabase, SERVER_URL, type TestDatabase } from './helpers/test-database.js';

/* `npm start` as a user runs it: a real process, real signals, the embedded database on disk. */

const API_KEY = 'process-test-key-0123456789';
// Each test starts and stops real processes, several seconds each on a loaded 2-core machine.
const PROCESS_TEST_TIMEOUT_MS = 180_000;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-process-'));
});
// A Baton that a failing or timed-out test left running ends here, pass or fail.
afterEach(endStartedProcesses);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

function slowCsvUpload(url: string, rows: number, onHalfway: () => void): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/leads/import`,
      { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'text/csv' } },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += String(chunk)));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.write('email,company\n');
    let sent = 0;
    const timer = setInterval(() => {
      req.write(`slow${sent}@upload.example.com,Slow Co\n`);
      sent++;
      if (sent === rows / 2) onHalfway();
      if (sent === rows) {
        clearInterval(timer);
        req.end();
      }
    }, 20);
  });
}

describe('npm start with an empty environment', () => {
  it(
    'starts on the embedded database, finishes in-flight work on SIGTERM, and keeps data across a restart',
    async () => {
      // A generous shutdown timeout: on a loaded machine the upload may take longer than the default 15 s.
      const first = await startBatonProcess({ BATON_DATA_DIR: dataDir, PORT: '0', BATON_API_KEY: API_KEY, SHUTDOWN_TIMEOUT_MS: '120000' });
      expect(first.output()).toContain('database: embedded');
      // The banner names the dashboard, and the root URL leads there.
      expect(first.output()).toContain(`Dashboard: ${first.url}/dashboard`);
      const root = await fetch(`${first.url}/`, { redirect: 'manual' });
      expect([root.status, root.headers.get('location')]).toEqual([302, '/dashboard']);
      const created = await fetch(`${first.url}/api/leads`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
        body: JSON.stringify({ email: 'persist@example.com', company: 'Durable' }),
      });
      expect(created.status).toBe(201);

      let exitCode: Promise<number | null> | null = null;
      const upload = await slowCsvUpload(first.url ?? '', 40, () => {
        exitCode = first.terminate();
      });
      expect(upload.status).toBe(200);
      expect(JSON.parse(upload.body)).toMatchObject({ created: 40, rejected: 0 });
      expect(await exitCode).toBe(0);
      expect(first.output()).toContain('"msg":"stopped"');

      const second = await startBatonProcess({ BATON_DATA_DIR: dataDir, PORT: '0', BATON_API_KEY: API_KEY });
      const list = await fetch(`${second.url}/api/leads?q=example.com&limit=100`, { headers: { Authorization: `Bearer ${API_KEY}` } });
      const page = (await list.json()) as { items: Array<{ email: string }> };
      const emails = page.items.map((lead) => lead.email);
      expect(emails).toContain('persist@example.com');
      expect(emails.filter((email) => email.startsWith('slow'))).toHaveLength(40);
      expect(await second.terminate()).toBe(0);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'generates and shows an API key on first start, and keeps a second process off the same data dir',
    async () => {
      const fresh = await mkdtemp(path.join(os.tmpdir(), 'baton-fresh-'));
      try {
        const first = await startBatonProcess({ BATON_DATA_DIR: fresh, PORT: '0' });
        const key = /API key: (baton_\S+)/.exec(first.output())?.[1];
        expect(key).toBeDefined();
        const res = await fetch(`${first.url}/api/leads`, { headers: { Authorization: `Bearer ${key}` } });
        expect(res.status).toBe(200);
        await expect(startBatonProcess({ BATON_DATA_DIR: fresh, PORT: '0' })).rejects.toThrow(
          /another Baton process \(pid \d+\) is using the embedded database/,
        );
        expect(await first.terminate()).toBe(0);
        const again = await startBatonProcess({ BATON_DATA_DIR: fresh, PORT: '0' });
        expect(again.output()).not.toContain(key);
        expect(again.output()).toContain('API key: in ');
        expect(await again.terminate()).toBe(0);
      } finally {
        await rm(fresh, { recursive: true, force: true });
      }
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'refuses to start when a template or sequence file is broken, naming file and line',
    async () => {
      const content = await mkdtemp(path.join(os.tmpdir(), 'baton-content-'));
      try {
        await writeFile(
          path.join(content, 'broken.yaml'),
          'id: broken\nname: Broken\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: a\n    wait: soon\n',
        );
        await expect(startBatonProcess({ BATON_DATA_DIR: dataDir, PORT: '0', BATON_SEQUENCES_DIR: content })).rejects.toThrow(
          /Templates and sequences have problems:\n {2}- .*broken\.yaml:8 steps\[0\]\.wait: "soon" is not a duration/,
        );
      } finally {
        await rm(content, { recursive: true, force: true });
      }
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    'refuses to start with a bad configuration and lists every problem',
    async () => {
      await expect(startBatonProcess({ PORT: 'eighty', BATON_PUBLIC_URL: 'nope', BATON_DATA_DIR: dataDir })).rejects.toThrow(
        /Invalid configuration:\n {2}- PORT must be a number\n {2}- BATON_PUBLIC_URL must be a valid uri/,
      );
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

describe('npm start in production', () => {
  it(
    'refuses to start without SMTP_URL, rather than catching every email in the development sink (issue 16)',
    async () => {
      const started = startBatonProcess({
        NODE_ENV: 'production',
        BATON_DATA_DIR: dataDir,
        PORT: '0',
        BATON_API_KEY: API_KEY,
        BATON_SECRET: 's'.repeat(40),
        BATON_POSTAL_ADDRESS: '2 Real Road, Springfield',
        BATON_PUBLIC_URL: 'https://baton.example.com',
        BATON_MAIL_FROM: 'Example <hello@example.com>',
      });
      // Should it start anyway, stop it so the failure is the assertion below, not a stray process.
      started.then(
        (baton) => baton.terminate(),
        () => undefined,
      );
      await expect(started).rejects.toThrow(/Invalid configuration:\n {2}- SMTP_URL is required in production: without it every email/);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

const onServer = SERVER_URL ? describe : describe.skip;
onServer('separate api and worker processes on a PostgreSQL server', () => {
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase({ migrated: false, poolSize: 2 });
  });
  afterAll(async () => {
    await database.drop();
  });

  it(
    'share one database: both migrate safely at once, the api serves, both stop cleanly',
    async () => {
      const env = { DATABASE_URL: database.url ?? '', PORT: '0', BATON_API_KEY: API_KEY, BATON_SECRET: 's'.repeat(40) };
      const [api, worker] = await Promise.all([startBatonProcess(env, ['--role', 'api']), startBatonProcess(env, ['--role', 'worker'])]);
      expect(worker.url).toBeNull();
      const health = await fetch(`${api.url}/health`);
      expect(health.status).toBe(200);
      const migrations = await database.pool.query('select count(*)::int as n from baton_migrations');
      expect(migrations.rows[0].n).toBeGreaterThan(0);
      const codes = await Promise.all([api.terminate(), worker.terminate()]);
      // On failure, show what each process said on the way out.
      if (codes.some((code) => code !== 0)) console.error(api.output().slice(-3000), worker.output().slice(-3000));
      expect(codes).toEqual([0, 0]);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});
