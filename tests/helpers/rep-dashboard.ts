import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { loadConfig } from '../../src/platform/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { caughtMail } from './caught-mail.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';
import { until } from './until.js';

/*
 * A running Baton (real Postgres or PGlite, Agenda, the SMTP sink) with two reps and one handoff
 * each: Grace (US) to Alex, Marie (FR) to Léa. For the rep sign-in and rep workflow tests.
 */

export const REP_API_KEY = 'rep-dashboard-api-key-0123456789abcdef';
export const REP_SECRET = 'rep-dashboard-secret-0123456789abcdef0123456789';

export interface RepDashboard {
  baton: RunningBaton;
  url: string;
  dir: string;
  api: ReturnType<typeof request>;
  auth: { Authorization: string };
  grace: { leadId: string; handoffId: string };
  marie: { leadId: string; handoffId: string };
  mailsTo: ReturnType<typeof caughtMail>['mailsTo'];
  waitForMails: ReturnType<typeof caughtMail>['waitForMails'];
  /** A Baton on the same data and database, with another API key (a rotation). */
  restartWithKey(apiKey: string): Promise<void>;
  close(): Promise<void>;
}

const SALES_TEAM = `fallback_owner: alex
reps:
  - id: alex
    name: Alex Kim
    email: alex@sales.test
    timezone: America/Los_Angeles
    territories: [{ countries: [US] }]
  - id: lea
    name: Léa Martin
    email: lea@sales.test
    timezone: Europe/Paris
    territories: [{ countries: [FR] }]
`;

export async function startRepDashboard(): Promise<RepDashboard> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'baton-reps-'));
  await mkdir(path.join(dir, 'sequences'));
  await writeFile(
    path.join(dir, 'sequences', 'welcome.yaml'),
    'id: welcome\nname: Welcome series\nversion: 1\nentry:\n  trigger: { type: lead_created }\nsteps:\n  - id: hello\n    email: welcome\n  - id: later\n    wait: 30d\n',
  );
  await writeFile(
    path.join(dir, 'scoring.yaml'),
    'behaviour:\n  - { id: demo, label: Asked for a demo, event: form_submit, where: { form: demo }, points: 60 }\nlifecycle:\n  mql: { engagement: 50 }\n',
  );
  await writeFile(path.join(dir, 'sales-team.yaml'), SALES_TEAM);
  const database: TestDatabase | null = process.env.DATABASE_URL ? await createTestDatabase({ migrated: false }) : null;
  const configFor = (apiKey: string) =>
    loadConfig({
      PORT: '0',
      BATON_DATA_DIR: dir,
      BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
      BATON_API_KEY: apiKey,
      BATON_SECRET: REP_SECRET,
      ...(database?.url ? { DATABASE_URL: database.url } : {}),
    });
  let baton = await startBaton(configFor(REP_API_KEY), createLogger('silent'));
  const state = {
    baton,
    url: baton.url ?? '',
    api: request(baton.url ?? ''),
    auth: { Authorization: `Bearer ${REP_API_KEY}` },
  };
  const handOff = async (lead: Record<string, unknown>) => {
    const created = await state.api.post('/api/leads').set(state.auth).send(lead);
    const leadId: string = created.body.id;
    await state.api
      .post('/api/events')
      .set(state.auth)
      .send({ leadId, type: 'form_submit', properties: { form: 'demo' } });
    const listed = await until(
      async () => (await state.api.get('/api/handoffs').query({ leadId }).set(state.auth)).body.items,
      (items) => items.length > 0,
      30_000,
    );
    return { leadId, handoffId: String(listed[0].id) };
  };
  const grace = await handOff({
    email: 'grace@navy.test',
    firstName: 'Grace',
    lastName: 'Hopper',
    company: 'US Navy',
    title: 'Rear Admiral',
    country: 'US',
    phone: '+1 (555) 010-0199',
    timezone: 'America/New_York',
    traits: { company_size: 250 },
  });
  const marie = await handOff({ email: 'marie@sorbonne.test', firstName: 'Marie', lastName: 'Curie', company: 'Sorbonne', country: 'FR' });
  const mail = () => caughtMail(state.api, state.auth);
  return {
    get baton() {
      return state.baton;
    },
    get url() {
      return state.url;
    },
    get api() {
      return state.api;
    },
    get auth() {
      return state.auth;
    },
    dir,
    grace,
    marie,
    mailsTo: (email) => mail().mailsTo(email),
    waitForMails: (email, count, timeoutMs) => mail().waitForMails(email, count, timeoutMs),
    async restartWithKey(apiKey) {
      await baton.stop();
      baton = await startBaton(configFor(apiKey), createLogger('silent'));
      Object.assign(state, { baton, url: baton.url ?? '', api: request(baton.url ?? ''), auth: { Authorization: `Bearer ${apiKey}` } });
    },
    async close() {
      await baton.stop();
      await database?.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The first https?:// URL in a text that contains `part`. */
export function linkIn(text: string, part: string): string {
  const found = text.match(/https?:\/\/\S+/g)?.find((url) => url.includes(part));
  if (!found) throw new Error(`no link with ${part} in:\n${text}`);
  return found;
}
