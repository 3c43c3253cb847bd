/*
 * `npm run demo`: Baton on a fresh embedded database with the example templates, scoring and
 * sales team, a nurture sequence on accelerated time (demo/sequences/), and leads that behave:
 * they get emails, some click (as a person would, after the scanner window), visit pricing, and
 * ask for a demo, so funnels, scores and handoffs appear within a minute. Then it keeps running
 * for the dashboard until Ctrl-C.
 *
 *   npm run demo                      # 30 leads, http://localhost:3000/dashboard
 *   DEMO_LEADS=10 PORT=4000 npm run demo
 *   DEMO_EXIT_WHEN_DONE=1 npm run demo   # stop once every lead has played its part (tests)
 *   BATON_TEMPLATES_DIR=… npm run demo   # templates from elsewhere (default: the checkout's templates/)
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { startBaton } from '../src/baton.js';
import { loadConfig } from '../src/platform/config.js';
import { createLogger } from '../src/platform/logger.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const LEADS = Number(process.env.DEMO_LEADS ?? 30);
const EXIT_WHEN_DONE = process.env.DEMO_EXIT_WHEN_DONE === '1';
const DATA_DIR = path.join(ROOT, '.baton-demo');
const PERSON = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari/605.1.15';
// Link scanners click within seconds of delivery; Baton counts those as machines. People are slower.
const HUMAN_DELAY_MS = 11_000;

const FIRST = ['Ada', 'Grace', 'Alan', 'Katherine', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Tim', 'Radia'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Johnson', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Berners-Lee', 'Perlman'];
const TITLES = ['VP Sales', 'Head of Growth', 'Marketing Coordinator', 'Chief Revenue Officer', 'Sales Director', 'Student'];
const COUNTRIES = ['US', 'CA', 'FR', 'GB', 'US', 'DE'];
const INDUSTRIES = ['saas', 'fintech', 'retail'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  await rm(DATA_DIR, { recursive: true, force: true });
  const config = loadConfig({
    PORT: process.env.PORT ?? '3000',
    BATON_DATA_DIR: DATA_DIR,
    BATON_TEMPLATES_DIR: process.env.BATON_TEMPLATES_DIR ?? path.join(ROOT, 'templates'),
    BATON_SEQUENCES_DIR: path.join(ROOT, 'demo/sequences'),
    BATON_SCORING_FILE: path.join(ROOT, 'scoring.yaml'),
    BATON_SALES_TEAM_FILE: path.join(ROOT, 'sales-team.yaml'),
    LOG_LEVEL: 'warn',
  });
  const baton = await startBaton(config, createLogger('warn'));
  const base = baton.url ?? '';
  const auth = { Authorization: `Bearer ${baton.secrets.apiKey}`, 'Content-Type': 'application/json' };
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${base}${route}`, { method, headers: auth, body: body === undefined ? undefined : JSON.stringify(body) });
    return (await res.json()) as Record<string, unknown>;
  };
  const mailTo = async (email: string) => (await api('GET', `/api/dev/mail?to=${encodeURIComponent(email)}`)).items as Array<{ id: string; subject: string }>;

  process.stdout.write(`Baton demo at ${base}/dashboard  (API key: ${baton.secrets.apiKey})\n`);
  const leads: Array<{ id: string; email: string; index: number }> = [];
  for (let index = 0; index < LEADS; index++) {
    const email = `${FIRST[index % 10]?.toLowerCase()}.${index}@demo-${index % 7}.example.com`;
    const lead = await api('POST', '/api/leads', {
      email,
      firstName: FIRST[index % 10],
      lastName: LAST[(index * 3) % 10],
      title: TITLES[index % TITLES.length],
      company: `Demo Co ${index % 7}`,
      country: COUNTRIES[index % COUNTRIES.length],
      traits: { company_size: 40 + ((index * 97) % 900), industry: INDUSTRIES[index % 3] },
    });
    leads.push({ id: String(lead.id), email, index });
  }
  process.stdout.write(`${LEADS} leads created; the nurture starts for each\n`);

  // Each lead plays a part: a third are hot (click, pricing, demo request), a third warm (click,
  // pricing), the rest only read. Roles follow the index, so every run looks the same. The click
  // is on the second email, "leaks": the sequence's branch sends the case study to those who
  // clicked it (a click on the welcome email would leave the case-study step at 0).
  await Promise.all(
    leads.map(async ({ id, email, index }) => {
      const role = index % 3 === 0 ? 'hot' : index % 3 === 1 ? 'warm' : 'reader';
      const received = role === 'reader' ? 1 : 2;
      while ((await mailTo(email)).length < received) await sleep(500);
      await sleep(HUMAN_DELAY_MS);
      if (role === 'reader') return;
      // Newest first: the second email received is the second from the end.
      const mail = (await mailTo(email)).at(-2);
      const message = mail ? await api('GET', `/api/dev/mail/${mail.id}`) : null;
      const link = /href="([^"]*\/c\/[^"]+)"/.exec(String(message?.html ?? ''))?.[1];
      if (link) await fetch(link.replace(config.publicUrl, base), { headers: { 'User-Agent': PERSON }, redirect: 'manual' });
      await api('POST', '/api/events', { leadId: id, type: 'page_view', properties: { path: '/pricing' } });
      if (role === 'hot') {
        await sleep(2000);
        await api('POST', '/api/events', { leadId: id, type: 'form_submit', properties: { form: 'demo' } });
      }
    }),
  );
  await sleep(3000);
  const handoffs = ((await api('GET', '/api/handoffs?limit=200')).items as unknown[]).length;
  process.stdout.write(`engagement played: ${handoffs} handoffs to sales so far; open ${base}/dashboard\n`);
  // The branch after "leaks": the warm leads (clickers not handed off) get the case study, the readers the reminder.
  const entered = async (step: string) =>
    ((await api('GET', '/api/sequences/demo-nurture/stats')).steps as Array<{ id: string; entered: number }>).find((row) => row.id === step)?.entered ?? 0;
  const branched = leads.filter(({ index }) => index % 3 !== 0).length;
  const deadline = Date.now() + 90_000;
  let [caseStudies, reminders] = [0, 0];
  while (Date.now() < deadline) {
    [caseStudies, reminders] = await Promise.all([entered('case-study'), entered('reminder')]);
    if (caseStudies + reminders >= branched) break;
    await sleep(1000);
  }
  process.stdout.write(`branch played: ${caseStudies} case studies to those who clicked "leaks", ${reminders} reminders\n`);
  // A demo request is the nurture's goal and hands the lead to sales: it counts as converted.
  const totals = (await api('GET', '/api/sequences/demo-nurture/stats')).totals as Record<string, number>;
  process.stdout.write(
    `demo-nurture: ${totals.converted ?? 0} converted, ${totals.exited ?? 0} exited, ${totals.active ?? 0} active, ${totals.completed ?? 0} completed\n`,
  );
  if (EXIT_WHEN_DONE) {
    await baton.stop();
    // As main.ts does: Agenda leaves a lock-renewal timer behind that would keep the process up.
    process.exit(0);
  }
  process.stdout.write('Ctrl-C stops the demo.\n');
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await baton.stop();
  process.exit(0);
}

main().catch((error: unknown) => {
  console.error('demo failed:', error);
  process.exit(1);
});
