import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ParsedMail } from 'mailparser';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { caughtMail } from '../helpers/caught-mail.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

/*
 * The nurture path end to end, through HTTP, real Postgres, Agenda and the embedded SMTP sink:
 * enroll → email 1 over SMTP → tracked click → the branch takes the clicked path → email 2 →
 * one-click unsubscribe → nothing more. Waits are seconds long.
 */

const API_KEY = 'e2e-api-key-0123456789abcdef';
const SEQUENCE = `id: e2e
name: End to end
version: 1
entry:
  trigger: { type: manual }
steps:
  - id: hello
    email: welcome
  - id: pause
    wait: 3s
  - id: clicked
    branch:
      - if: { clicked: hello }
        then: thanks
    else: nudge
  - id: thanks
    email: case-study
  - id: wait-more
    wait: 2s
  - id: later
    email: roi-calculator
  - id: done
    end: true
  - id: nudge
    email: pipeline-leaks-reminder
    next: done
`;

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let api: ReturnType<typeof request>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-e2e-'));
  await writeFile(path.join(dir, 'e2e.yaml'), SEQUENCE);
  // On a server, a database of its own; on PGlite, an embedded one in the temp dir.
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_SEQUENCES_DIR: dir,
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_API_KEY: API_KEY,
    BATON_SECRET: 'e2e-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: 'https://baton.test',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  api = request(baton.url ?? '');
});

afterAll(async () => {
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
  // Agenda leaves a liveness timer behind each run (see src/platform/scheduler.ts).
  await new Promise((resolve) => setTimeout(resolve, 2600));
});

const auth = { Authorization: `Bearer ${API_KEY}` };
const localPath = (url: string) => new URL(url).pathname;

const mails = () => caughtMail(api, auth);
const mailsTo = (email: string) => mails().mailsTo(email);
const waitForMails = (email: string, count: number, timeoutMs?: number) => mails().waitForMails(email, count, timeoutMs);

describe('a lead through a nurture sequence', () => {
  it('gets email 1, clicks, takes the clicked branch, unsubscribes with one click, and gets nothing more', async () => {
    const lead = await api.post('/api/leads').set(auth).send({ email: 'journey@example.com', firstName: 'Joan', company: 'Globex' });
    expect(lead.status).toBe(201);
    const enrolled = await api.post('/api/sequences/e2e/enroll').set(auth).send({ leadId: lead.body.id });
    expect(enrolled.status).toBe(201);
    expect((await api.post('/api/sequences/e2e/enroll').set(auth).send({ leadId: lead.body.id })).status).toBe(409);

    const [first] = await waitForMails('journey@example.com', 1);
    expect(first?.subject).toBe('Welcome, Joan: your pipeline playbook');
    expect(first?.text).toContain('on behalf of Globex');
    const header = (mail: ParsedMail | undefined, name: string) => mail?.headerLines.find((line) => line.key === name)?.line.replace(/\r?\n\s+/g, ' ');
    expect(header(first, 'list-unsubscribe')).toMatch(/^List-Unsubscribe:\s+<https:\/\/baton\.test\/u\/[^>]+>$/);
    expect(header(first, 'list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');

    // A person clicks, later than a scanner would (the link's send time is moved back a minute).
    const link = /href="(https:\/\/baton\.test\/c\/[^"]+)"/.exec(String(first?.html))?.[1] ?? '';
    await baton.database.pool.query(`update tracked_links set created_at = now() - interval '1 minute'`);
    const click = await api
      .get(localPath(link))
      .set('User-Agent', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15');
    expect(click.status).toBe(302);
    expect(click.headers.location).toBe('https://example.com/resources/pipeline-playbook');

    const [, second] = await waitForMails('journey@example.com', 2);
    expect(second?.subject).toBe('How Northwind doubled sales-accepted leads in a quarter');

    const unsubscribe = /<(https:\/\/baton\.test\/u\/[^>]+)>/.exec(header(second, 'list-unsubscribe') ?? '')?.[1] ?? '';
    const unsubscribed = await api.post(localPath(unsubscribe)).type('form').send('List-Unsubscribe=One-Click');
    expect(unsubscribed.status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, 4000));
    expect(await mailsTo('journey@example.com')).toHaveLength(2);
    const enrollment = await baton.database.pool.query('select status, exit_reason from enrollments where lead_id = $1', [lead.body.id]);
    expect(enrollment.rows).toEqual([{ status: 'exited', exit_reason: 'the lead unsubscribed' }]);
    const clicks = await api.get(`/api/leads/${lead.body.id}/timeline`).query({ type: 'email_clicked' }).set(auth);
    expect(clicks.body.items).toEqual([expect.objectContaining({ properties: expect.objectContaining({ machine: false }) })]);
  });
});
