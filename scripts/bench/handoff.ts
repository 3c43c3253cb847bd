/*
 * Handoff benchmark: from a crossing event's POST /api/events to the rep's "Hot lead" email
 * accepted by an SMTP sink, per lead, for 1,000 leads crossing the MQL threshold at a steady rate;
 * p50, p90, p99 and max against a p99 target of 1 s. A second run does the same with intent
 * events: a demo request under the threshold that hands the lead off as an intent rule.
 *
 *   npm run bench:handoff                     # builds; api + worker processes on a PostgreSQL server at DATABASE_URL
 *   BENCH_LEADS=100 npm run bench:handoff     # fewer leads (default 1000)
 *   BENCH_RATE=50 npm run bench:handoff       # crossing events per second (default 20)
 *   BENCH_ROLE=all npm run bench:handoff      # one process that serves and works, on the server
 *   BENCH_EMBEDDED=1 npm run bench:handoff    # one process on embedded PGlite in a temporary data dir
 *   BENCH_KIND=intent npm run bench:handoff   # only the intent run (threshold: only the threshold run; default both, one after the other)
 *   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:handoff   # flags for the process that scores
 *
 * Before any clock: a fresh database, Baton spawned from dist/ with fixtures/handoff/ (one demo
 * request crosses the threshold whoever the lead is, or, for the intent run, scoring-intent.yaml:
 * the demo request is an intent rule; four reps, no SLA, no capacity) and no sequences at all,
 * the leads imported as CSV over HTTP, then idle. The leads share one company domain, so after the
 * first handoff the account's rep takes every lead and each briefing reads a large buying group.
 *
 * Measured: one crossing event per lead, sent open-loop at BENCH_RATE (a slow Baton cannot slow
 * the sender down and so hide its queueing). A lead's latency runs from just before its POST to
 * the moment the sink has the whole rep email, before it answers 250. The email is matched to its
 * lead by the subject, which carries the lead's unique first name. Every lead must get exactly
 * one email: a missing, duplicated or unexpected one fails the run.
 *
 * Where the time goes: each handoff's own timestamps (GET /api/handoffs/:id) split a latency into
 * the POST; the wait until the worker rescores the lead (its createdAt is the clock the rescoring
 * ran with: a poll every 200 ms, then the leads taken before it, four at a time); rescoring and
 * briefing reads up to the handoff transaction (a notification's createdAt, the transaction's
 * now()); the rest of the transaction and the outbox up to the notification pass (sentAt); and
 * rendering plus SMTP. Those are two clocks (Node's and PostgreSQL's, on this machine) at
 * millisecond precision: a stage can read a millisecond below zero.
 *
 * Baselines, in the same run: the round trips of the crossing POSTs themselves, and an SMTP round
 * trip alone: a child process sends a briefing email rendered from a real handoff through pooled
 * Nodemailer with Baton's settings, each on a signal this process gives at the same rate, to the
 * same sink. Its latency runs from the signal to the sink's acceptance, like Baton's.
 */
import { fork } from 'node:child_process';
import { createBenchDatabase, listenSmtpSink, spawnBaton, type BatonProcess } from './lib/baton-processes.js';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { BRIEFING_TEMPLATE } from '../../src/handoff/handoff-notifier.js';
import { loadTemplates, type RenderedEmail } from '../../src/templates/template-store.js';

const LEADS = positiveInteger('BENCH_LEADS', 1000);
const RATE = positiveInteger('BENCH_RATE', 20);
const EMBEDDED = process.env.BENCH_EMBEDDED === '1';
const ONE_PROCESS = EMBEDDED || process.env.BENCH_ROLE === 'all';
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = path.resolve(import.meta.dirname, '../..');
const FIXTURES = 'scripts/bench/fixtures/handoff';
const API_KEY = 'bench-api-key-0123456789abcdef';
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const COMPANY = { name: 'Baton Demo Company', postalAddress: '1 Example Street, Springfield, USA' };
const TARGET_P99_MS = 1000;
// Baton's transport (src/mail/mail-transport.ts): STEP_CONCURRENCY connections, 1,000 messages each.
const POOL = { maxConnections: 10, maxMessages: 1000 };
// How long after the last POST the sink may still be waiting for emails, and how long it then
// keeps listening for duplicates.
const DONE_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 120_000);
const SETTLE_MS = 3000;
const COUNTRIES = ['US', 'FR', 'DE'];
// "Hot lead: …" for the threshold run, "Demo request: …" (the intent rule's label) for the intent run.
const HOT_LEAD = /^(?:Hot lead|Demo request): Lead(\d+) Bench /;
type Kind = 'threshold' | 'intent';
const KINDS: Kind[] = process.env.BENCH_KIND === 'intent' ? ['intent'] : process.env.BENCH_KIND === 'threshold' ? ['threshold'] : ['threshold', 'intent'];
const SCORING_FILE: Record<Kind, string> = { threshold: `${FIXTURES}/scoring.yaml`, intent: `${FIXTURES}/scoring-intent.yaml` };

function positiveInteger(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, not "${process.env[name]}"`);
  return value;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** A deadline to race against: it does not keep the process alive once the race is over. */
const deadline = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const text = (value: unknown): string => (typeof value === 'string' ? value : '');
const leadName = (index: number) => `Lead${String(index).padStart(6, '0')}`;

/** An email the sink accepted: when (performance.now() and epoch ms), and which handoff it tells of. */
interface Arrival {
  at: number;
  epochMs: number;
  handoffId: string;
  bytes: number;
}

/** What the sink saw in one phase: arrivals by lead (or baseline message) index. */
interface SinkPhase {
  arrivals: Map<number, Arrival>;
  duplicates: number;
  /** Subjects of messages that named no index. */
  strays: string[];
  expected: number;
  reached: Promise<void>;
}

interface Sink {
  url: string;
  /** Starts a phase; `indexOf` reads a message's index from its unfolded header block. */
  expect(count: number, indexOf: (headers: string) => number | null): SinkPhase;
  close(): Promise<void>;
}

function header(headers: string, name: string): string {
  return new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(headers)?.[1]?.trim() ?? '';
}

/** An SMTP server that accepts everything and records, per message, its index and arrival time. */
async function startSink(): Promise<Sink> {
  let phase: SinkPhase | null = null;
  let indexOf: (headers: string) => number | null = () => null;
  let reached = () => {};
  const record = (head: string, bytes: number) => {
    // Taken when the whole message is in, before the 250: "accepted by the sink".
    const at = performance.now();
    const epochMs = Date.now();
    if (!phase) return;
    const headers = head.slice(0, head.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    const index = indexOf(headers);
    if (index === null) phase.strays.push(header(headers, 'subject'));
    else if (phase.arrivals.has(index)) phase.duplicates += 1;
    else phase.arrivals.set(index, { at, epochMs, handoffId: header(headers, 'x-baton-handoff'), bytes });
    if (phase.arrivals.size === phase.expected) reached();
  };
  const { server, port } = await listenSmtpSink(record, '2.0.0 accepted');
  return {
    url: `smtp://127.0.0.1:${port}`,
    expect(count, readIndex) {
      indexOf = readIndex;
      const reachedPromise = new Promise<void>((resolve) => (reached = resolve));
      phase = { arrivals: new Map(), duplicates: 0, strays: [], expected: count, reached: reachedPromise };
      return phase;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function api(url: string, method: string, route: string, body?: string, contentType = 'application/json'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}${route}`, { method, body, headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': contentType } });
  return { status: res.status, json: await res.json() };
}

/** Follows nextCursor through a listing; returns every item. */
async function listAll(url: string, route: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const page = await api(url, 'GET', `${route}?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    if (page.status !== 200 || !isRecord(page.json) || !Array.isArray(page.json.items))
      throw new Error(`GET ${route}: ${page.status} ${JSON.stringify(page.json).slice(0, 300)}`);
    items.push(...page.json.items.filter(isRecord));
    cursor = typeof page.json.nextCursor === 'string' ? page.json.nextCursor : null;
  } while (cursor);
  return items;
}

/** Imports the leads as CSV over HTTP; returns their ids by index. */
async function importLeads(url: string): Promise<string[]> {
  const rows = ['email,first_name,last_name,company,country'];
  for (let i = 0; i < LEADS; i++)
    rows.push(`${leadName(i).toLowerCase()}@bench.example.com,${leadName(i)},Bench,Company ${i},${COUNTRIES[i % COUNTRIES.length]}`);
  const imported = await api(url, 'POST', '/api/leads/import', `${rows.join('\n')}\n`, 'text/csv');
  if (imported.status !== 200 || !isRecord(imported.json) || imported.json.created !== LEADS)
    throw new Error(`import failed: ${imported.status} ${JSON.stringify(imported.json).slice(0, 500)}`);
  const ids: string[] = [];
  for (const lead of await listAll(url, '/api/leads')) {
    const index = /^Lead(\d+)$/.exec(text(lead.firstName))?.[1];
    if (index !== undefined) ids[Number(index)] = text(lead.id);
  }
  if (ids.filter(Boolean).length !== LEADS) throw new Error(`listed ${ids.filter(Boolean).length} of ${LEADS} imported leads`);
  return ids;
}

/** Nothing queued for scoring or for sequence triggers; without a database connection, a pause. */
async function waitUntilIdle(db: pg.Pool | null): Promise<void> {
  if (!db) {
    await sleep(2000);
    return;
  }
  const queued = async () =>
    (await db.query<{ n: number }>('select ((select count(*) from score_queue) + (select count(*) from trigger_queue))::int as n')).rows[0]?.n ?? 0;
  const started = performance.now();
  while ((await queued()) > 0) {
    if (performance.now() - started > 60_000) throw new Error('Baton did not go idle after the import');
    await sleep(200);
  }
}

/** Calls `fire` `count` times at `rate` a second, on schedule whatever earlier calls take. */
async function paced(count: number, rate: number, fire: (index: number) => Promise<void>): Promise<{ maxLagMs: number }> {
  const inFlight: Array<Promise<void>> = [];
  const started = performance.now();
  let next = 0;
  let maxLagMs = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      for (let dueAt = started + (next / rate) * 1000; next < count && dueAt <= now; dueAt = started + (next / rate) * 1000) {
        maxLagMs = Math.max(maxLagMs, now - dueAt);
        inFlight.push(fire(next));
        next += 1;
      }
      if (next < count) return;
      clearInterval(timer);
      resolve();
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  await Promise.all(inFlight);
  return { maxLagMs };
}

interface Crossing {
  at: number;
  epochMs: number;
  answeredAt: number;
  status: number;
}

interface PhaseResult {
  crossings: Crossing[];
  sink: SinkPhase;
  maxLagMs: number;
  seconds: number;
  cpuMs: { baton: number[]; backends: number; sink: number };
  /** Transactions committed in the database during the phase; null without a connection. */
  commits: number | null;
}

/** User + system CPU of a process, in ms, from /proc (Linux, 100 clock ticks a second). */
async function cpuMs(pid: number | undefined): Promise<number> {
  const stat = pid ? await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '') : '';
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 10;
}

async function commitCount(db: pg.Pool | null): Promise<number | null> {
  if (!db) return null;
  return (await db.query<{ n: number }>('select xact_commit::int as n from pg_stat_database where datname = current_database()')).rows[0]?.n ?? null;
}

async function backendsCpu(db: pg.Pool | null): Promise<Map<number, number>> {
  if (!db) return new Map();
  const pids = (await db.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')).rows.map(
    (row) => row.pid,
  );
  return new Map(await Promise.all(pids.map(async (pid) => [pid, await cpuMs(pid)] as const)));
}

/** The measured phase: one crossing event per lead, at RATE, until the sink has every rep email. */
async function runCrossings(url: string, leadIds: string[], sink: Sink, db: pg.Pool | null, processes: BatonProcess[]): Promise<PhaseResult> {
  const phase = sink.expect(LEADS, (headers) => {
    const index = HOT_LEAD.exec(header(headers, 'subject'))?.[1];
    return index === undefined ? null : Number(index);
  });
  const crossings: Crossing[] = [];
  const batonBefore = await Promise.all(processes.map((child) => cpuMs(child.child.pid)));
  const backendsBefore = await backendsCpu(db);
  const commitsBefore = await commitCount(db);
  const sinkBefore = process.cpuUsage();
  const started = performance.now();
  const { maxLagMs } = await paced(LEADS, RATE, async (index) => {
    const body = JSON.stringify({ leadId: leadIds[index], type: 'form_submit', properties: { form: 'demo' } });
    const epochMs = Date.now();
    const at = performance.now();
    const status = await fetch(`${url}/api/events`, {
      method: 'POST',
      body,
      headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' },
    }).then(
      async (res) => {
        await res.arrayBuffer();
        return res.status;
      },
      () => 0,
    );
    crossings[index] = { at, epochMs, answeredAt: performance.now(), status };
  });
  await Promise.race([phase.reached, deadline(DONE_TIMEOUT_MS), ...processes.map((child) => child.crashed)]);
  await sleep(SETTLE_MS);
  const seconds = (Math.max(started, ...[...phase.arrivals.values()].map((arrival) => arrival.at)) - started) / 1000;
  const sinkCpu = process.cpuUsage(sinkBefore);
  const batonAfter = await Promise.all(processes.map((child) => cpuMs(child.child.pid)));
  const backendsAfter = await backendsCpu(db);
  // Read after SETTLE_MS: backends report their statistics when they go idle.
  const commitsAfter = await commitCount(db);
  const backends = [...backendsAfter].reduce((sum, [pid, ms]) => sum + ms - (backendsBefore.get(pid) ?? 0), 0);
  return {
    crossings,
    sink: phase,
    maxLagMs,
    seconds,
    cpuMs: { baton: batonAfter.map((ms, i) => ms - (batonBefore[i] ?? 0)), backends, sink: (sinkCpu.user + sinkCpu.system) / 1000 },
    commits: commitsBefore === null || commitsAfter === null ? null : commitsAfter - commitsBefore,
  };
}

/** A handoff's own timestamps (epoch ms), read back over HTTP after the run. */
interface HandoffTimes {
  leadId: string;
  createdAt: number;
  notifiedAt: number;
  sentAt: number;
  attempts: number;
  briefing: unknown;
}

async function handoffTimes(url: string, ids: string[]): Promise<Map<string, HandoffTimes>> {
  const times = new Map<string, HandoffTimes>();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let i = next++; i < ids.length; i = next++) {
        const id = ids[i] ?? '';
        const res = await api(url, 'GET', `/api/handoffs/${id}`);
        if (res.status !== 200 || !isRecord(res.json) || !Array.isArray(res.json.notifications)) throw new Error(`GET /api/handoffs/${id}: ${res.status}`);
        const email = res.json.notifications.filter(isRecord).find((note) => note.channel === 'email');
        times.set(id, {
          leadId: text(res.json.leadId),
          createdAt: Date.parse(text(res.json.createdAt)),
          notifiedAt: Date.parse(text(email?.createdAt)),
          sentAt: Date.parse(text(email?.sentAt)),
          attempts: Number(email?.attempts ?? 0),
          briefing: res.json.briefing,
        });
      }
    }),
  );
  return times;
}

interface BaselineResult {
  latencies: number[];
  bytes: number;
  renderMs: number[];
  failed: number;
  duplicates: number;
  strays: number;
}

/** The SMTP round trip alone: a child sends a prebuilt briefing email on each signal, at RATE. */
async function runBaseline(sink: Sink, briefing: unknown, handoffId: string): Promise<BaselineResult> {
  const child = fork(fileURLToPath(import.meta.url), ['--baseline-client', sink.url], { cwd: ROOT });
  const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`baseline client exited with ${code}`))));
  exited.catch(() => undefined);
  const reply = (kind: string) =>
    Promise.race([
      exited,
      new Promise<Record<string, unknown>>((resolve) => {
        const listener = (message: unknown) => {
          if (!isRecord(message) || message.kind !== kind) return;
          child.off('message', listener);
          resolve(message);
        };
        child.on('message', listener);
      }),
    ]);
  const ready = reply('ready');
  child.send({ kind: 'prepare', briefing, handoffId });
  const { renderMs } = await ready;
  const phase = sink.expect(LEADS, (headers) => {
    const index = header(headers, 'x-bench-baseline');
    return index === '' ? null : Number(index);
  });
  const signalledAt: number[] = [];
  await paced(LEADS, RATE, async (index) => {
    signalledAt[index] = performance.now();
    child.send({ kind: 'send', index });
  });
  await Promise.race([phase.reached, deadline(DONE_TIMEOUT_MS), exited]);
  await sleep(SETTLE_MS);
  const closed = reply('closed');
  child.send({ kind: 'close' });
  const { failed } = await closed;
  child.kill();
  const arrivals = [...phase.arrivals];
  return {
    latencies: arrivals.map(([index, arrival]) => arrival.at - (signalledAt[index] ?? NaN)),
    bytes: arrivals.reduce((sum, [, arrival]) => sum + arrival.bytes, 0) / Math.max(1, arrivals.length),
    renderMs: Array.isArray(renderMs) ? renderMs.filter((ms) => typeof ms === 'number') : [],
    failed: Number(failed ?? 0),
    duplicates: phase.duplicates,
    strays: phase.strays.length,
  };
}

/** The child side of the baseline: the email Baton's notifier would render, sent on each signal. */
async function baselineClient(smtpUrl: string): Promise<void> {
  const loaded = await loadTemplates(path.join(ROOT, 'templates'));
  if (!loaded.ok) throw new Error(`templates: ${JSON.stringify(loaded.problems)}`);
  const url = new URL(smtpUrl);
  const transporter = nodemailer.createTransport({ pool: true, ...POOL, host: url.hostname, port: Number(url.port), secure: false, ignoreTLS: true });
  let rendered: RenderedEmail | null = null;
  let handoffId = '';
  let failed = 0;
  const sends: Array<Promise<unknown>> = [];
  process.on('message', (message: unknown) => {
    if (!isRecord(message)) return;
    if (message.kind === 'prepare') {
      handoffId = text(message.handoffId);
      // As src/handoff/handoff-notifier.ts renders it; timed here, where no clock runs.
      const renderMs: number[] = [];
      for (let i = 0; i < 200; i++) {
        const started = performance.now();
        rendered = loaded.store.render(BRIEFING_TEMPLATE, { lead: {}, company: COMPANY, links: { unsubscribe: '' }, briefing: message.briefing });
        renderMs.push(performance.now() - started);
      }
      process.send?.({ kind: 'ready', renderMs });
    } else if (message.kind === 'send' && rendered) {
      sends.push(
        transporter
          .sendMail({
            from: rendered.from ?? 'Baton <baton@localhost>',
            to: 'alex@sales.bench.example.com',
            subject: rendered.subject,
            html: rendered.html,
            text: rendered.text,
            headers: { 'X-Baton-Handoff': handoffId, 'X-Bench-Baseline': String(message.index) },
          })
          .catch(() => (failed += 1)),
      );
    } else if (message.kind === 'close') {
      void Promise.all(sends).then(() => {
        transporter.close();
        process.send?.({ kind: 'closed', failed });
      });
    }
  });
}

interface Stats {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

/** Nearest-rank percentiles. */
function stats(values: number[]): Stats {
  const sorted = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
  return { count: sorted.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: sorted.at(-1) ?? NaN };
}

const ms = (value: number) => `${value.toFixed(1)} ms`.padStart(10);
const line = (label: string, s: Stats, note = '') =>
  console.log(`${label.padEnd(38)}p50 ${ms(s.p50)}  p90 ${ms(s.p90)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  n=${s.count}${note ? `  ${note}` : ''}`);

/** Everything one run measured, for the checks and the figures. */
interface Measurements {
  importSeconds: number;
  loadBefore: number[];
  run: PhaseResult;
  leadIds: string[];
  times: Map<string, HandoffTimes>;
  baseline: BaselineResult;
  handoffCount: number;
}

/** What fails the run: a lead without exactly one rep email, or a baseline that lost mail. */
function problemsOf({ run: { crossings, sink }, leadIds, times, baseline, handoffCount }: Measurements): string[] {
  const problems: string[] = [];
  const refused = crossings.filter((crossing) => crossing.status !== 202).length;
  if (refused > 0) problems.push(`${refused} crossing POSTs were not answered 202`);
  const missing = leadIds.map((_id, index) => index).filter((index) => !sink.arrivals.has(index));
  if (missing.length > 0) problems.push(`${missing.length} leads got no rep email (first: ${missing.slice(0, 5).map(leadName).join(', ')})`);
  if (sink.duplicates > 0) problems.push(`${sink.duplicates} duplicate rep emails`);
  if (sink.strays.length > 0) problems.push(`${sink.strays.length} unexpected emails (first subject: "${sink.strays[0]}")`);
  const handoffIds = new Set([...sink.arrivals.values()].map((arrival) => arrival.handoffId));
  if (handoffIds.size !== sink.arrivals.size) problems.push(`${sink.arrivals.size} emails tell of ${handoffIds.size} distinct handoffs`);
  const wrongLead = [...sink.arrivals].filter(([index, arrival]) => times.get(arrival.handoffId)?.leadId !== leadIds[index]).length;
  if (wrongLead > 0) problems.push(`${wrongLead} emails name a lead other than their handoff's`);
  if (handoffCount !== LEADS) problems.push(`${handoffCount} handoffs in Baton for ${LEADS} leads`);
  if (baseline.failed + baseline.duplicates + baseline.strays > 0 || baseline.latencies.length !== LEADS) {
    problems.push(
      `baseline: ${baseline.latencies.length} of ${LEADS} arrived, ${baseline.failed} failed, ${baseline.duplicates} duplicates, ${baseline.strays} unexpected`,
    );
  }
  return problems;
}

function printFigures({ importSeconds, loadBefore, run, times, baseline }: Measurements): void {
  const { crossings, sink } = run;
  const stage = (pick: (crossing: Crossing, arrival: Arrival, time: HandoffTimes) => number) =>
    stats(
      [...sink.arrivals].map(([index, arrival]) => {
        const crossing = crossings[index];
        const time = times.get(arrival.handoffId);
        return crossing && time ? pick(crossing, arrival, time) : NaN;
      }),
    );
  const latency = stage((crossing, arrival) => arrival.at - crossing.at);
  const post = stats(crossings.map((crossing) => crossing.answeredAt - crossing.at));
  const smtp = stats(baseline.latencies);
  const mode = EMBEDDED
    ? 'one process (role all), embedded PGlite'
    : ONE_PROCESS
      ? 'one process (role all), PostgreSQL server'
      : 'api + worker processes, PostgreSQL server';
  const cpuPerLead = (total: number) => `${(total / LEADS).toFixed(2)} ms`;
  const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
  const emailBytes = [...sink.arrivals.values()].reduce((sum, arrival) => sum + arrival.bytes, 0) / Math.max(1, sink.arrivals.size);
  const handoffs = new Set([...sink.arrivals.values()].map((arrival) => arrival.handoffId)).size;
  const retried = [...times.values()].filter((time) => time.attempts !== 1).length;

  console.log(
    `leads:                 ${LEADS} crossing at ${RATE}/s (${mode}; imported over HTTP in ${importSeconds.toFixed(1)} s, before the clock); sender at most ${run.maxLagMs.toFixed(1)} ms behind schedule`,
  );
  console.log(
    `machine:               ${os.cpus().length} cores, load average ${loadBefore.map((load) => load.toFixed(2)).join(' ')} before, ${os
      .loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')} after (other work on the machine shows here)`,
  );
  console.log(
    `emails:                ${sink.arrivals.size} rep emails for ${LEADS} leads (${kb(emailBytes)} each), ${sink.duplicates} duplicates, ${sink.strays.length} unexpected, ${handoffs} distinct handoffs; ${retried} notifications needed more than one attempt; last one ${run.seconds.toFixed(1)} s after the first POST`,
  );
  line('handoff (POST → sink accepted)', latency);
  console.log(`target:                p99 < ${TARGET_P99_MS} ms: ${latency.p99 < TARGET_P99_MS ? 'met' : 'NOT MET'}`);
  line('baseline: event POST → 202', post, '(the crossing POSTs themselves)');
  line('baseline: SMTP alone', smtp, `(pooled Nodemailer, the briefing email prebuilt, ${kb(baseline.bytes)}, same rate and sink)`);
  const ratio = (baselineStats: Stats) => `p50 ${(latency.p50 / baselineStats.p50).toFixed(1)}x, p99 ${(latency.p99 / baselineStats.p99).toFixed(1)}x`;
  console.log(`ratio:                 handoff / SMTP alone: ${ratio(smtp)}; handoff / event POST: ${ratio(post)}`);
  console.log('where the time goes, per lead:');
  line('  POST → 202', post);
  line(
    '  202 → rescoring of the lead starts',
    stage((crossing, _arrival, time) => time.createdAt - (crossing.epochMs + crossing.answeredAt - crossing.at)),
    '(a 200 ms poll, then the leads before it, four at a time)',
  );
  line(
    '  → handoff transaction begins',
    stage((_crossing, _arrival, time) => time.notifiedAt - time.createdAt),
    '(rescoring, briefing reads)',
  );
  line(
    '  → notification pass starts',
    stage((_crossing, _arrival, time) => time.sentAt - time.notifiedAt),
    '(the transaction, then the outbox)',
  );
  line(
    '  → accepted by the sink',
    stage((_crossing, arrival, time) => arrival.epochMs - time.sentAt),
    '(render, SMTP)',
  );
  line('  of which rendering alone', stats(baseline.renderMs), '(the briefing email, measured in the baseline child)');
  // A backlog shows as a run of slow leads: the p99 of each tenth of the leads, in sending order.
  const latencyOf = (index: number) => (sink.arrivals.get(index)?.at ?? NaN) - (crossings[index]?.at ?? NaN);
  const tenths = Array.from({ length: 10 }, (_unused, tenth) => {
    const from = Math.floor((tenth * LEADS) / 10);
    const to = Math.floor(((tenth + 1) * LEADS) / 10);
    return stats(Array.from({ length: to - from }, (_none, offset) => latencyOf(from + offset))).p99;
  });
  console.log(`over the run:          p99 of each tenth of the leads, in sending order: ${tenths.map((p99) => p99.toFixed(0)).join(', ')} ms`);
  const [first = 0, second] = run.cpuMs.baton;
  const batonCpu = second === undefined ? `Baton ${cpuPerLead(first)}` : `api ${cpuPerLead(first)}, worker ${cpuPerLead(second)}`;
  console.log(
    `cpu per lead:          ${batonCpu}${EMBEDDED ? '' : `, their postgres backends ${cpuPerLead(run.cpuMs.backends)}`}, sink and sender ${cpuPerLead(run.cpuMs.sink)} (first POST to ${SETTLE_MS / 1000} s after the last email, idle polling included)`,
  );
  if (run.commits !== null) console.log(`database:              ${(run.commits / LEADS).toFixed(1)} commits per lead (pg_stat_database, same span)`);
}

async function main(): Promise<void> {
  for (const kind of KINDS) {
    console.log(
      `\n== ${kind === 'intent' ? 'intent events: a demo request under the threshold, handed off by an intent rule' : 'threshold: a demo request that crosses the MQL threshold'} ==`,
    );
    await runKind(kind);
  }
}

async function runKind(kind: Kind): Promise<void> {
  const sink = await startSink();
  const database = EMBEDDED ? null : await createBenchDatabase(SERVER_URL, 'handoff');
  const db = database ? new pg.Pool({ connectionString: database.url, max: 2 }) : null;
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-bench-handoff-'));
  // No sequences: a lead's only work is its handoff. The loader takes an empty directory.
  const sequencesDir = path.join(dataDir, 'sequences');
  await mkdir(sequencesDir);
  const env: Record<string, string> = {
    ...(database ? { DATABASE_URL: database.url } : {}),
    BATON_DATA_DIR: dataDir,
    BATON_TEMPLATES_DIR: 'templates',
    BATON_SEQUENCES_DIR: sequencesDir,
    BATON_SCORING_FILE: SCORING_FILE[kind],
    BATON_SALES_TEAM_FILE: `${FIXTURES}/sales-team.yaml`,
    SMTP_URL: sink.url,
    PORT: '0',
  };
  // The process that scores gets BENCH_NODE_ARGS (e.g. --cpu-prof).
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const base = { BATON_API_KEY: API_KEY, BATON_SECRET: SECRET, LOG_LEVEL: 'info', ...env };
  const processes = ONE_PROCESS ? [spawnBaton('all', base, nodeArgs)] : [spawnBaton('api', base), spawnBaton('worker', base, nodeArgs)];
  let cleaning: Promise<void> | null = null;
  const cleanUp = () => {
    cleaning ??= (async () => {
      await Promise.all(processes.map((child) => child.stop()));
      await db?.end();
      await sink.close();
      await database?.drop();
      await rm(dataDir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  // Interrupted (Ctrl-C, a timeout): stop the processes and drop the database all the same.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    const [url] = await Promise.all(processes.map((child) => child.started));
    if (!url) throw new Error('Baton has no URL');
    const importStarted = performance.now();
    const leadIds = await importLeads(url);
    const importSeconds = (performance.now() - importStarted) / 1000;
    await waitUntilIdle(db);

    const loadBefore = os.loadavg();
    const run = await runCrossings(url, leadIds, sink, db, processes);
    const handoffIds = [...run.sink.arrivals.values()].map((arrival) => arrival.handoffId);
    const times = await handoffTimes(url, handoffIds);
    const sample = times.get(handoffIds[0] ?? '');
    if (!sample) throw new Error('no handoff reached the sink: nothing to compare with');
    const baseline = await runBaseline(sink, sample.briefing, handoffIds[0] ?? '');
    const handoffCount = (await listAll(url, '/api/handoffs')).length;

    const measured: Measurements = { importSeconds, loadBefore, run, leadIds, times, baseline, handoffCount };
    printFigures(measured);
    const problems = problemsOf(measured);
    for (const problem of problems) console.error(`FAILED: ${problem}`);
    if (problems.length > 0) process.exitCode = 1;
  } catch (error) {
    for (const child of processes) console.error(`Baton output:\n${child.output().slice(-4000)}`);
    throw error;
  } finally {
    await cleanUp();
  }
}

const [mode, smtpUrl] = process.argv.slice(2);
(mode === '--baseline-client' ? baselineClient(smtpUrl ?? '') : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
