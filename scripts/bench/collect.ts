/*
 * Snippet collect benchmark: Baton's POST /collect (origin allow-list, JSON parse, validation,
 * site key, per-visitor and per-IP rate limits, event buffered and written in batches through the
 * visitor upsert) against a raw node:http server that reads the same body and answers the same
 * 202 with the CORS header, both in this process, both loaded by wrk (Debian's `wrk`) with the
 * same settings and scripts/bench/collect.lua (1,000 rotating visitors).
 *
 *   npm run bench:collect                  # PostgreSQL server at DATABASE_URL (default: local test server)
 *   BENCH_SECONDS=5 BENCH_RUNS=5 npm run bench:collect
 *
 * The rate limits are raised for the run (one loopback address sends everything). After each
 * Baton run the buffer is flushed and the page views counted: every answered event must be
 * recorded, anonymous ones in visitor_events.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { createApp } from '../../src/app.js';
import { captureConfig } from '../../src/capture/capture-config.js';
import { createVisitorTokens, startCapture } from '../../src/capture/capture-setup.js';
import { openDatabase } from '../../src/platform/db/database.js';
import { migrate } from '../../src/platform/db/migrate.js';
import { createLogger } from '../../src/platform/logger.js';
import { createServices } from '../../src/services.js';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const ORIGIN = 'https://www.example.com';
const SITE_KEY = 'site_bench_key_0123';
const SCRIPT = fileURLToPath(new URL('./collect.lua', import.meta.url));

interface WrkResult {
  requests: number;
  perSecond: number;
  latency: Record<string, string>;
  non2xx3xx: number;
}

async function wrk(url: string): Promise<WrkResult> {
  const { stdout } = await run('wrk', ['-t2', `-c${CONNECTIONS}`, `-d${SECONDS}s`, '--latency', '-s', SCRIPT, url], {
    maxBuffer: 1 << 20,
    env: { ...process.env, BENCH_ORIGIN: ORIGIN, BENCH_SITE_KEY: SITE_KEY },
  });
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? 0);
  const perSecond = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? 0);
  const latency = Object.fromEntries([...stdout.matchAll(/^\s+(50|75|90|99)%\s+(\S+)/gm)].map((match) => [`p${match[1]}`, match[2] ?? '']));
  const non2xx3xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { requests, perSecond, latency, non2xx3xx };
}

/** This process's CPU per answered request (Baton's includes writing the batches, flushed after the run). */
function cpuPerRequest(used: NodeJS.CpuUsage, requests: number): string {
  return `cpu ${requests > 0 ? Math.round((used.user + used.system) / requests) : 0} µs/req`;
}

async function listen(server: http.Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function main(): Promise<void> {
  // Baseline: read the body, answer the same 202, nothing else.
  const raw = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(202, { 'Access-Control-Allow-Origin': ORIGIN, Vary: 'Origin', 'Cache-Control': 'no-store', 'Content-Length': '0' });
      res.end();
    });
  });
  const rawUrl = await listen(raw);

  const name = `baton_bench_collect_${process.pid}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  const database = await openDatabase({ url: url.toString(), embeddedDir: 'memory', poolSize: 10 });
  try {
    await migrate(database.pool);
    const logger = createLogger('warn');
    const secret = 's'.repeat(40);
    const services = await createServices(database.db, { secret, publicUrl: 'http://127.0.0.1', logger });
    const config = captureConfig({ BATON_SITE_ORIGINS: ORIGIN, BATON_COLLECT_VISITOR_RATE: '9999999/1m', BATON_COLLECT_IP_RATE: '9999999/1m' });
    const capture = startCapture({
      config,
      siteKey: SITE_KEY,
      db: database.db,
      leads: services.leads,
      tokens: createVisitorTokens(secret),
      logger,
      worker: false,
    });
    const app = createApp({ apiKey: 'k'.repeat(30), companyName: 'Bench', logger, services, pingDatabase: database.ping, capture: capture.handler });
    const server = http.createServer(app);
    const batonUrl = await listen(server);

    console.log(`wrk: 2 threads, ${CONNECTIONS} connections, ${SECONDS}s each, ${RUNS} runs (baseline then Baton, alternating)`);
    let answered = 0;
    const ratios: number[] = [];
    for (let index = 1; index <= RUNS; index++) {
      let cpu = process.cpuUsage();
      const baseline = await wrk(`${rawUrl}/collect`);
      const baselineCpu = cpuPerRequest(process.cpuUsage(cpu), baseline.requests);
      cpu = process.cpuUsage();
      const baton = await wrk(`${batonUrl}/collect`);
      await capture.service.flush();
      const batonCpu = cpuPerRequest(process.cpuUsage(cpu), baton.requests);
      answered += baton.requests - baton.non2xx3xx;
      // Accepted events per second: a 503 (buffer full) is no event taken.
      const acceptedPerSecond = baton.perSecond * ((baton.requests - baton.non2xx3xx) / Math.max(1, baton.requests));
      const ratio = acceptedPerSecond / baseline.perSecond;
      ratios.push(ratio);
      console.log(
        `run ${index}: baseline ${Math.round(baseline.perSecond)} req/s ${JSON.stringify(baseline.latency)} ${baselineCpu} | baton ${Math.round(baton.perSecond)} req/s ${JSON.stringify(baton.latency)} ${batonCpu} non-2xx ${baton.non2xx3xx} | ratio ${ratio.toFixed(2)}x`,
      );
      if (baton.non2xx3xx > 0)
        console.log(`  ${baton.non2xx3xx} answers were not 202 (503: the buffer was full, the database behind); the ratio counts accepted events only`);
    }
    await new Promise((resolve) => server.close(resolve));
    await capture.stop();
    const { rows } = await database.pool.query<{ n: number }>(
      `select (select count(*) from visitor_events where type = 'page_view') + (select count(*) from events where type = 'page_view') as n`,
    );
    const recorded = Number(rows[0]?.n ?? 0);
    const sorted = [...ratios].sort((a, b) => a - b);
    const median =
      sorted.length % 2 === 1 ? (sorted[(sorted.length - 1) / 2] ?? 0) : ((sorted[sorted.length / 2 - 1] ?? 0) + (sorted[sorted.length / 2] ?? 0)) / 2;
    console.log(
      `ratio per run: ${ratios.map((ratio) => ratio.toFixed(2)).join(', ')}  (median ${median.toFixed(2)}x of baseline, worst ${sorted[0]?.toFixed(2)}x)`,
    );
    // wrk stops counting at the deadline while the server still answers what was in flight, so recorded >= answered.
    console.log(`events answered 202: ${answered}, recorded after flush: ${recorded}${recorded >= answered ? ' (none lost)' : ' (LOST EVENTS)'}`);
    await services.tracking.close();
  } finally {
    await new Promise((resolve) => raw.close(resolve));
    await database.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
