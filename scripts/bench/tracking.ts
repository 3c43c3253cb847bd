/*
 * Click-tracking benchmark: Baton's click redirect (signed token → stored link → 302, event
 * buffered and written in batches) against a raw node:http server answering the same 302,
 * both in this process, both loaded by wrk (Debian's `wrk`) with the same settings.
 *
 *   npm run bench:tracking                 # PostgreSQL server at DATABASE_URL (default: local test server)
 *   BENCH_SECONDS=5 npm run bench:tracking
 *
 * After the Baton run, the buffered events are flushed and counted: every answered click must
 * be recorded. Then both servers take a fixed rate (BENCH_RATE, default 5,000 req/s) from an
 * open-loop generator in its own process (scripts/bench/fixed-rate-load.ts), for latency under a
 * steady load rather than at saturation.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import pg from 'pg';
import { createApp } from '../../src/app.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/logger.js';
import { createServices } from '../../src/services.js';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const TARGET = 'https://example.com/guide';
const RATE = Number(process.env.BENCH_RATE ?? 5000);

interface FixedRateResult {
  sent: number;
  answered: number;
  errors: number;
  wrongStatus: number;
  achieved: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

async function fixedRate(url: string): Promise<FixedRateResult> {
  const script = new URL('./fixed-rate-load.ts', import.meta.url).pathname;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', script, url, String(RATE), String(SECONDS)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as FixedRateResult;
}

const describeFixed = (result: FixedRateResult) =>
  `${result.achieved} req/s achieved  p50 ${result.p50.toFixed(2)} ms  p90 ${result.p90.toFixed(2)} ms  p99 ${result.p99.toFixed(2)} ms  max ${result.max.toFixed(1)} ms  errors ${result.errors + result.wrongStatus}`;

interface WrkResult {
  requests: number;
  perSecond: number;
  latency: Record<string, string>;
  non2xx3xx: number;
}

async function wrk(url: string): Promise<WrkResult> {
  const { stdout } = await run('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', url], { maxBuffer: 1 << 20 });
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const latency = Object.fromEntries([...stdout.matchAll(/^\s+(50|75|90|99)%\s+(\S+)/gm)].map((match) => [`p${match[1]}`, match[2] ?? '']));
  const non2xx3xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { requests, perSecond, latency, non2xx3xx };
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  // Baseline: the same 302, nothing else.
  const raw = http.createServer((_req, res) => {
    res.writeHead(302, { Location: TARGET, 'Cache-Control': 'no-store' });
    res.end();
  });
  const rawUrl = await listen(raw);
  const baseline = await wrk(`${rawUrl}/c/anything`);
  const baselineFixed = await fixedRate(`${rawUrl}/c/anything`);
  await new Promise((resolve) => raw.close(resolve));

  const name = `baton_bench_tracking_${process.pid}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), embeddedDir: 'memory', poolSize: 10 });
  try {
    await migrate(database.pool);
    const logger = createLogger('warn');
    const services = await createServices(database.db, { secret: 's'.repeat(40), publicUrl: 'http://127.0.0.1', logger });
    const app = createApp({ apiKey: 'k'.repeat(30), companyName: 'Bench', logger, services, pingDatabase: database.ping });
    const server = http.createServer(app);
    const batonUrl = await listen(server);
    const lead = await services.leads.upsert({ email: 'clicker@example.com' });
    if (lead.kind !== 'created') throw new Error('could not create the lead');
    const [prepared] = await services.tracking.prepareEmails([
      { sendId: 'bench', leadId: lead.lead.id, html: `<a href="${TARGET}">x</a>`, text: '', keepUrls: [] },
    ]);
    const clickPath = new URL(/href="([^"]+)"/.exec(prepared?.html ?? '')?.[1] ?? '').pathname;
    await database.pool.query(`update tracked_links set created_at = now() - interval '1 hour'`);

    const baton = await wrk(`${batonUrl}${clickPath}`);
    const batonFixed = await fixedRate(`${batonUrl}${clickPath}`);
    await new Promise((resolve) => server.close(resolve));
    await services.tracking.close();
    const { rows } = await database.pool.query<{ n: number }>(`select count(*)::int as n from events where type = 'email_clicked'`);

    console.log(`wrk: 2 threads, ${CONNECTIONS} connections, ${SECONDS}s each`);
    console.log(`baseline (raw node:http 302): ${Math.round(baseline.perSecond)} req/s  latency ${JSON.stringify(baseline.latency)}`);
    console.log(`baton click redirect:          ${Math.round(baton.perSecond)} req/s  latency ${JSON.stringify(baton.latency)}  non-3xx ${baton.non2xx3xx}`);
    console.log(`ratio:                         ${(baton.perSecond / baseline.perSecond).toFixed(2)}x of baseline`);
    // wrk stops counting at the deadline while the server still answers what was in flight, so recorded >= answered.
    const recorded = rows[0]?.n ?? 0;
    const answered = baton.requests + batonFixed.answered;
    console.log(
      `clicks answered ${answered} (wrk ${baton.requests}, fixed rate ${batonFixed.answered}), recorded after flush ${recorded}${recorded >= answered ? ' (none lost)' : ' (LOST CLICKS)'}`,
    );
    console.log(`fixed rate ${RATE} req/s for ${SECONDS}s, latency from when each request was due:`);
    console.log(`  baseline:     ${describeFixed(baselineFixed)}`);
    console.log(`  baton click:  ${describeFixed(batonFixed)}`);
  } finally {
    await database.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
