/*
 * Sending benchmark: 10,000 due emails through Baton's whole pipeline (email queue → batched step
 * runner → send ledger → render → tracked links → pooled SMTP → ledger and event) against pooled
 * Nodemailer sending prebuilt messages, both to the same SMTP sink, measured in the same run.
 *
 *   npm run bench:sending                 # builds, then PostgreSQL server at DATABASE_URL (default: local test server)
 *   BENCH_EMAILS=1000 npm run bench:sending
 *   BENCH_WORKERS=2 npm run bench:sending # worker processes sharing the queue
 *   BENCH_SEQUENCE=bench-single-email npm run bench:sending   # a sequence whose email is its last step
 *   BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench:sending   # flags for the worker processes
 *
 * Pipeline: an api process imports the leads (CSV) and enrolls each one over HTTP into a sequence
 * of fixtures/sending/ while no worker runs, so every email is due in the queue. Then the workers
 * start, and the clock runs from their spawn until the sink has every message: process start-up
 * is included, and printed apart so the reader can judge. Afterwards the send
 * ledger must say `sent` for every email, and the sink must have seen no Message-ID twice.
 * CPU per email is printed for each process (and the workers' PostgreSQL backends): on a shared
 * or small machine it says more than the rates, which move with whatever else runs.
 *
 * Baseline: a child process renders the same template into Nodemailer options before the clock
 * starts, then sends them over a pool with Baton's settings (src/mail/mail-transport.ts). The
 * sink runs in this process in both cases, and the sender in another.
 */
import { fork } from 'node:child_process';
import { createBenchDatabase, listenSmtpSink, spawnBaton, type BatonProcess } from './lib/baton-processes.js';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import nodemailer from 'nodemailer';
import type Mail from 'nodemailer/lib/mailer/index.js';
import pg from 'pg';
import { buildMailOptions } from '../../src/mail/mail-message.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import { loadTemplates } from '../../src/templates/template-store.js';

const EMAILS = Number(process.env.BENCH_EMAILS ?? 10_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ROOT = path.resolve(import.meta.dirname, '../..');
// A sequence of fixtures/sending/: bench-welcome (an email, then a wait) or bench-single-email.
const SEQUENCE = process.env.BENCH_SEQUENCE ?? 'bench-welcome';
const API_KEY = 'bench-api-key-0123456789abcdef';
const SECRET = 'bench-secret-0123456789abcdef0123456789';
const PUBLIC_URL = 'http://localhost:3000';
const ENROLL_CONCURRENCY = 16;
// Baton's pool: SMTP_CONNECTIONS in src/baton.ts, and createMailTransport's 1,000 messages per
// connection before a reconnect. Keep them in step.
const POOL = { maxConnections: 10, maxMessages: 1000 };
// Enough sends queued that the pool never waits for the benchmark to hand it the next one.
const BASELINE_IN_FLIGHT = 50;
const DONE_TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_MS ?? 15 * 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the sink saw during one run. */
interface SinkRun {
  expected: number;
  received: number;
  bytes: number;
  firstAt: number;
  lastAt: number;
  messageIds: Set<string>;
  duplicates: number;
  withoutId: number;
}

interface Sink {
  url: string;
  /** Starts counting afresh; `done` resolves when `count` messages have arrived. */
  expect(count: number): { run: SinkRun; done: Promise<void> };
  close(): Promise<void>;
}

/** An SMTP server that accepts everything and only counts: bytes, arrival times, Message-IDs. */
async function startSink(): Promise<Sink> {
  let run: SinkRun | null = null;
  let finish: (() => void) | null = null;
  const record = (head: string, size: number) => {
    if (!run) return;
    const now = performance.now();
    if (run.received === 0) run.firstAt = now;
    run.received += 1;
    run.lastAt = now;
    run.bytes += size;
    const headers = head.slice(0, head.indexOf('\r\n\r\n')).replace(/\r\n[ \t]+/g, ' ');
    const id = /^message-id:\s*(\S+)/im.exec(headers)?.[1];
    if (!id) run.withoutId += 1;
    else if (run.messageIds.has(id)) run.duplicates += 1;
    else run.messageIds.add(id);
    if (run.received === run.expected) finish?.();
  };
  const { server, port } = await listenSmtpSink(record, '2.0.0 counted');
  return {
    url: `smtp://127.0.0.1:${port}`,
    expect(count) {
      run = { expected: count, received: 0, bytes: 0, firstAt: 0, lastAt: 0, messageIds: new Set(), duplicates: 0, withoutId: 0 };
      const current = run;
      const done = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sink got ${current.received} of ${count} messages in ${DONE_TIMEOUT_MS} ms`)), DONE_TIMEOUT_MS);
        timer.unref();
        finish = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      done.catch(() => undefined);
      return { run: current, done };
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

async function api(url: string, method: string, route: string, body: string, contentType: string): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${url}${route}`, { method, body, headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': contentType } });
  return { status: res.status, json: await res.json() };
}

/** Imports the leads over HTTP, then enrolls each one, ENROLL_CONCURRENCY requests at a time. */
async function enrollLeads(url: string, db: pg.Pool): Promise<void> {
  const rows = ['email,first_name,last_name,company,timezone,country'];
  for (let i = 0; i < EMAILS; i++)
    rows.push(
      `lead${i}@bench.example.com,First${i},Last${i},Company ${i % 500},${['Europe/Paris', 'America/New_York', 'Asia/Tokyo'][i % 3]},${['FR', 'US', 'JP'][i % 3]}`,
    );
  const imported = await api(url, 'POST', '/api/leads/import', `${rows.join('\n')}\n`, 'text/csv');
  const created = typeof imported.json === 'object' && imported.json !== null && 'created' in imported.json ? imported.json.created : null;
  if (imported.status !== 200 || created !== EMAILS) throw new Error(`import failed: ${imported.status} ${JSON.stringify(imported.json).slice(0, 500)}`);

  const ids = (await db.query<{ id: string }>('select id from leads')).rows.map((row) => row.id);
  let next = 0;
  await Promise.all(
    Array.from({ length: ENROLL_CONCURRENCY }, async () => {
      for (let index = next++; index < ids.length; index = next++) {
        const enrolled = await api(url, 'POST', `/api/sequences/${SEQUENCE}/enroll`, JSON.stringify({ leadId: ids[index] }), 'application/json');
        if (enrolled.status !== 201) throw new Error(`enroll failed: ${enrolled.status} ${JSON.stringify(enrolled.json)}`);
      }
    }),
  );
}

async function count(db: pg.Pool, query: string): Promise<number> {
  return (await db.query<{ n: number }>(query)).rows[0]?.n ?? 0;
}

/** Runs the baseline sender in a child process, so that it does not share a thread with the sink. */
async function runBaseline(sink: Sink): Promise<{ seconds: number; run: SinkRun; failed: number; cpu: number; sinkCpu: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--baseline-client', sink.url, String(EMAILS)], { cwd: ROOT });
  const exited = new Promise<never>((_resolve, reject) => child.once('exit', (code) => reject(new Error(`baseline client exited with ${code}`))));
  exited.catch(() => undefined);
  type Message = { kind: string; failed?: number; cpuMs?: number };
  const message = (kind: string) =>
    Promise.race([
      exited,
      new Promise<Message>((resolve) => {
        const listener = (received: Message) => {
          if (received.kind !== kind) return;
          child.off('message', listener);
          resolve(received);
        };
        child.on('message', listener);
      }),
    ]);
  await message('ready');
  const { run, done } = sink.expect(EMAILS);
  const sinkCpu = process.cpuUsage();
  const started = performance.now();
  const finished = message('finished');
  child.send({ kind: 'go' });
  const { failed = 0, cpuMs = 0 } = await finished;
  if (failed === 0) await Promise.race([done, exited]);
  const seconds = (run.lastAt - started) / 1000;
  const sinkCpuMs = process.cpuUsage(sinkCpu);
  child.kill();
  return { seconds, run, failed, cpu: cpuMs, sinkCpu: (sinkCpuMs.user + sinkCpuMs.system) / 1000 };
}

/** The child side of the baseline: prebuilt messages, then as fast as the pool takes them. */
async function baselineClient(smtpUrl: string, total: number): Promise<void> {
  const loaded = await loadTemplates(path.join(ROOT, 'templates'));
  if (!loaded.ok) throw new Error(`templates: ${JSON.stringify(loaded.problems)}`);
  const clickSigner = createTokenSigner(SECRET, 'click');
  const openSigner = createTokenSigner(SECRET, 'open');
  const unsubscribeSigner = createTokenSigner(SECRET, 'unsubscribe');
  const messages: Mail.Options[] = [];
  for (let i = 0; i < total; i++) {
    const unsubscribe = `${PUBLIC_URL}/u/${unsubscribeSigner.sign(JSON.stringify([`lead-${i}`, `send-${i}`]))}`;
    const rendered = loaded.store.render('welcome', {
      lead: { firstName: `First${i}`, lastName: `Last${i}`, company: `Company ${i % 500}`, email: `lead${i}@bench.example.com`, traits: {} },
      company: { name: 'Baton Demo Company', postalAddress: '1 Example Street, Springfield, USA' },
      links: { unsubscribe },
      sequence: { id: SEQUENCE, name: 'Sending benchmark' },
      step: { id: 'welcome' },
    });
    // The same shape as a tracked email: links through /c/<signed id>, and an open pixel.
    const tracked = (url: string) => (url === unsubscribe ? url : `${PUBLIC_URL}/c/${clickSigner.sign(String(i * 10 + url.length))}`);
    const pixel = `<img src="${PUBLIC_URL}/o/${openSigner.sign(JSON.stringify([`lead-${i}`, `send-${i}`]))}.gif" width="1" height="1" alt="" style="display:block;border:0;height:1px;width:1px" />`;
    const html = rendered.html.replace(/href="(https?:\/\/[^"]+)"/g, (_whole, url: string) => `href="${tracked(url)}"`).replace('</body>', `${pixel}</body>`);
    const text = rendered.text.replace(/https?:\/\/[^\s<>()[\]"']+/g, tracked);
    messages.push(
      buildMailOptions({
        rendered: { ...rendered, html, text },
        to: `lead${i}@bench.example.com`,
        from: 'Baton <baton@localhost>',
        messageId: `<baseline-${i}.welcome@localhost>`,
        unsubscribeUrl: unsubscribe,
        headers: { 'X-Baton-Send': `send-${i}` },
      }),
    );
  }
  const url = new URL(smtpUrl);
  const transporter = nodemailer.createTransport({ pool: true, ...POOL, host: url.hostname, port: Number(url.port), secure: false, ignoreTLS: true });
  const go = new Promise<void>((resolve) => process.once('message', () => resolve()));
  process.send?.({ kind: 'ready' });
  await go;
  const cpu = process.cpuUsage();
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: BASELINE_IN_FLIGHT }, async () => {
      for (let index = next++; index < messages.length; index = next++) {
        const options = messages[index];
        if (options) await transporter.sendMail(options).catch(() => (failed += 1));
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  transporter.close();
  process.send?.({ kind: 'finished', failed, cpuMs: (used.user + used.system) / 1000 });
}

function perSecond(emails: number, seconds: number): string {
  return `${Math.round(emails / seconds)} emails/s`;
}

/** User + system CPU of a process, in ms, from /proc (Linux, 100 clock ticks a second). */
async function cpuMs(pid: number | undefined): Promise<number> {
  const stat = pid ? await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '') : '';
  // After "pid (comm) ", utime and stime are the 12th and 13th fields.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11] ?? 0) + Number(fields[12] ?? 0)) * 10;
}

async function backendPids(db: pg.Pool): Promise<number[]> {
  return (await db.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database()')).rows.map((row) => row.pid);
}

interface PipelineResult {
  seconds: number;
  run: SinkRun;
  readySeconds: number;
  firstSeconds: number;
  sent: number;
  ledgerLagMs: number;
  pendingSteps: number;
  commits: number;
  cpu: { startup: number; worker: number; backends: number; sink: number };
}

/** Starts the workers on the due jobs; the clock runs from their spawn to the sink's last message. */
async function runPipeline(sink: Sink, db: pg.Pool, env: Record<string, string>, workers: BatonProcess[], api: BatonProcess): Promise<PipelineResult> {
  const statsQuery = `select xact_commit::int as n from pg_stat_database where datname = current_database()`;
  const commitsBefore = await count(db, statsQuery);
  const backendsBefore = new Set(await backendPids(db));
  const sinkCpu = process.cpuUsage();
  const { run, done } = sink.expect(EMAILS);
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const started = performance.now();
  for (let i = 0; i < WORKERS; i++) workers.push(spawnBaton('worker', { ...env, LOG_LEVEL: 'info' }, nodeArgs));
  const ready = Promise.all(
    workers.map(async (worker) => {
      await worker.started;
      return cpuMs(worker.child.pid);
    }),
  ).then((startupCpu) => ({ at: performance.now(), cpu: startupCpu.reduce((sum, ms) => sum + ms, 0) }));
  await Promise.race([done, api.crashed, ...workers.map((worker) => worker.crashed)]);
  const sinkDoneAt = performance.now();
  const sinkCpuMs = process.cpuUsage(sinkCpu);
  const workerCpu = (await Promise.all(workers.map((worker) => cpuMs(worker.child.pid)))).reduce((sum, ms) => sum + ms, 0);
  const backends = (await backendPids(db)).filter((pid) => !backendsBefore.has(pid));
  const backendCpu = (await Promise.all(backends.map(cpuMs))).reduce((sum, ms) => sum + ms, 0);
  const { at: readyAt, cpu: startupCpu } = await ready;

  // A send is marked sent after the sink's 250, so the last rows may land just after the last message.
  let sent = await count(db, `select count(*)::int as n from sends where status = 'sent'`);
  while (sent < EMAILS && performance.now() - sinkDoneAt < 10_000) {
    await sleep(100);
    sent = await count(db, `select count(*)::int as n from sends where status = 'sent'`);
  }
  const ledgerLagMs = performance.now() - sinkDoneAt;
  const pendingSteps = await count(db, `select (select count(*) from agenda_jobs where next_run_at <= now()) + (select count(*) from email_queue)::int as n`);
  await Promise.all(workers.map((worker) => worker.stop()));
  // Backends report their statistics when they go idle or exit.
  await sleep(1500);
  return {
    seconds: (run.lastAt - started) / 1000,
    run,
    readySeconds: (readyAt - started) / 1000,
    firstSeconds: (run.firstAt - started) / 1000,
    sent,
    ledgerLagMs,
    pendingSteps,
    commits: (await count(db, statsQuery)) - commitsBefore,
    cpu: { startup: startupCpu, worker: workerCpu - startupCpu, backends: backendCpu, sink: (sinkCpuMs.user + sinkCpuMs.system) / 1000 },
  };
}

async function main(): Promise<void> {
  const sink = await startSink();
  const database = await createBenchDatabase(SERVER_URL, 'sending');
  const db = new pg.Pool({ connectionString: database.url, max: 2 });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-bench-sending-'));
  const env = {
    BATON_API_KEY: API_KEY,
    BATON_SECRET: SECRET,
    BATON_PUBLIC_URL: PUBLIC_URL,
    DATABASE_URL: database.url,
    BATON_DATA_DIR: dataDir,
    BATON_TEMPLATES_DIR: 'templates',
    BATON_SEQUENCES_DIR: 'scripts/bench/fixtures/sending',
    SMTP_URL: sink.url,
  };
  const api = spawnBaton('api', { ...env, PORT: '0', LOG_LEVEL: 'warn' });
  const workers: BatonProcess[] = [];
  let cleaning: Promise<void> | null = null;
  const cleanUp = () => {
    cleaning ??= (async () => {
      await Promise.all([...workers, api].map((child) => child.stop()));
      await db.end();
      await sink.close();
      await database.drop();
      await rm(dataDir, { recursive: true, force: true });
    })();
    return cleaning;
  };
  // Interrupted (Ctrl-C, a timeout): stop the processes and drop the database all the same.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void cleanUp().finally(() => process.exit(130)));
  }
  try {
    const url = await api.started;
    if (!url) throw new Error('the api process has no URL');
    const enrollStarted = performance.now();
    await enrollLeads(url, db);
    const enrollSeconds = (performance.now() - enrollStarted) / 1000;
    const due = await count(db, `select count(*)::int as n from email_queue where leased_by is null and due_at <= now()`);
    if (due !== EMAILS) throw new Error(`expected ${EMAILS} due emails in the queue, found ${due}`);

    const baseline = await runBaseline(sink);
    const pipeline = await runPipeline(sink, db, env, workers, api);
    const { run, cpu } = pipeline;
    const perEmail = (ms: number) => `${(ms / EMAILS).toFixed(2)} ms`;
    console.log(
      `emails:            ${EMAILS} (sequence ${SEQUENCE}, template welcome; leads imported and enrolled over HTTP in ${enrollSeconds.toFixed(1)} s, before the clock)`,
    );
    console.log(
      `baseline:          ${perSecond(EMAILS, baseline.seconds)} (${baseline.seconds.toFixed(2)} s; pooled Nodemailer, ${POOL.maxConnections} connections, prebuilt messages of ${(baseline.run.bytes / baseline.run.received / 1024).toFixed(1)} KB; failed ${baseline.failed}, duplicates ${baseline.run.duplicates})`,
    );
    console.log(
      `pipeline:          ${perSecond(EMAILS, pipeline.seconds)} (${pipeline.seconds.toFixed(2)} s from spawning ${WORKERS} worker${WORKERS === 1 ? '' : 's'} to the last message, nothing subtracted; ${(run.bytes / run.received / 1024).toFixed(1)} KB each)`,
    );
    console.log(`  start-up:        ${pipeline.readySeconds.toFixed(2)} s to "worker started", ${pipeline.firstSeconds.toFixed(2)} s to the first message`);
    console.log(`  steady state:    ${perSecond(EMAILS - 1, (run.lastAt - run.firstAt) / 1000)} (first to last message)`);
    console.log(`ratio:             ${(EMAILS / pipeline.seconds / (EMAILS / baseline.seconds)).toFixed(2)}x of baseline (target >= 0.6x)`);
    console.log(`duplicates:        ${run.duplicates} at the sink (${run.messageIds.size} distinct Message-IDs, ${run.withoutId} without one)`);
    console.log(
      `ledger:            ${pipeline.sent} sends marked sent${pipeline.sent === EMAILS ? '' : ` (EXPECTED ${EMAILS})`}, ${Math.round(pipeline.ledgerLagMs)} ms after the last message; ${pipeline.pendingSteps} step jobs or emails still due`,
    );
    console.log(
      `cpu per email:     baseline sender ${perEmail(baseline.cpu)}, sink ${perEmail(baseline.sinkCpu)}; pipeline worker ${perEmail(cpu.worker)} (plus ${(cpu.startup / 1000).toFixed(1)} s at start-up), its postgres backends ${perEmail(cpu.backends)}, sink ${perEmail(cpu.sink)}`,
    );
    console.log(`database:          ${(pipeline.commits / EMAILS).toFixed(1)} commits per email (pg_stat_database, from worker start to stop)`);
    if (run.duplicates > 0 || run.withoutId > 0 || pipeline.sent !== EMAILS || baseline.failed > 0) process.exitCode = 1;
  } catch (error) {
    for (const worker of workers) console.error(`worker output:\n${worker.output().slice(-4000)}`);
    throw error;
  } finally {
    await cleanUp();
  }
}

const [mode, smtpUrl, total] = process.argv.slice(2);
(mode === '--baseline-client' ? baselineClient(smtpUrl ?? '', Number(total)) : main()).catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
