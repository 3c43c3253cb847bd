/*
 * CSV import benchmark: 100,000 generated rows streamed over HTTP into a real Baton process.
 *
 *   npm run bench:import                       # builds, then PostgreSQL server at DATABASE_URL (default: local test server)
 *   BENCH_ROWS=20000 npm run bench:import
 *   BENCH_EMBEDDED=1 npm run bench:import      # the embedded PGlite database instead
 *
 * Prints rows/s for Baton and for a baseline measured in the same run: the same rows written
 * straight to the same database by multi-row INSERTs over pg, without parsing, validation or
 * HTTP. The ratio says what Baton's pipeline costs. Peak RSS is the Baton process's VmHWM.
 */
import { spawn } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

const ROWS = Number(process.env.BENCH_ROWS ?? 100_000);
const EMBEDDED = process.env.BENCH_EMBEDDED === '1';
const SERVER_URL = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const API_KEY = 'bench-api-key-0123456789abcdef';
const ROOT = path.resolve(import.meta.dirname, '../..');

function csvRow(i: number, domain: string): string {
  const zones = ['Europe/Paris', 'America/New_York', 'Asia/Tokyo', 'Europe/Berlin'];
  return `lead${i}@${domain},First${i},Last${i},Company ${i % 5000},Head of Growth,+1 555 ${String(i % 10000).padStart(4, '0')},${zones[i % 4]},${['US', 'FR', 'DE', 'JP'][i % 4]},bench,prospect;bench,${i % 7 === 0 ? 'enterprise' : 'starter'}`;
}

async function generateCsv(file: string, domain: string): Promise<void> {
  const lines = ['email,first_name,last_name,company,title,phone,timezone,country,source,tags,plan'];
  for (let i = 0; i < ROWS; i++) lines.push(csvRow(i, domain));
  await writeFile(file, `${lines.join('\n')}\n`);
}

async function withDatabase(): Promise<{ url: string | null; drop: () => Promise<void> }> {
  if (EMBEDDED) return { url: null, drop: async () => undefined };
  const name = `baton_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`drop database if exists ${name} with (force)`);
  await admin.query(`create database ${name}`);
  await admin.end();
  const url = new URL(SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: SERVER_URL });
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`);
      await client.end();
    },
  };
}

function startBaton(env: Record<string, string>): Promise<{ url: string; pid: number; stop: () => Promise<void> }> {
  // BENCH_NODE_ARGS passes flags to the Baton process, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'warn', PORT: '0', BATON_API_KEY: API_KEY, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => {
      output += String(chunk);
      const match = /Baton is running at (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        resolve({
          url: match[1],
          pid: child.pid ?? 0,
          stop: () =>
            new Promise((done) => {
              child.once('exit', () => done());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.once('exit', (code) => reject(new Error(`Baton exited with ${code}: ${output}`)));
  });
}

async function peakRssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return kb / 1024;
}

function upload(url: string, file: string): Promise<{ created: number; updated: number; rejected: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${url}/api/leads/import`,
      { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'text/csv' } },
      (res) => {
        let body = '';
        res.on('data', (chunk) => (body += String(chunk)));
        res.on('end', () =>
          res.statusCode === 200
            ? resolve(JSON.parse(body) as { created: number; updated: number; rejected: number })
            : reject(new Error(`${res.statusCode}: ${body.slice(0, 500)}`)),
        );
      },
    );
    req.on('error', reject);
    createReadStream(file).pipe(req);
  });
}

/** The same rows, inserted directly: no CSV parsing, no validation, no HTTP. */
async function baseline(url: string): Promise<number> {
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  const started = performance.now();
  for (let start = 0; start < ROWS; start += 1000) {
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (let i = start; i < Math.min(ROWS, start + 1000); i++) {
      const cells = csvRow(i, 'baseline.example.com').split(',');
      const offset = values.length;
      values.push(
        cells[0],
        cells[1],
        cells[2],
        cells[3],
        cells[4],
        cells[5],
        cells[6],
        cells[7],
        cells[8],
        (cells[9] ?? '').split(';'),
        JSON.stringify({ plan: cells[10] }),
      );
      tuples.push(`(${Array.from({ length: 11 }, (_, k) => `$${offset + k + 1}`).join(',')})`);
    }
    await pool.query(
      `insert into leads (email, first_name, last_name, company, title, phone, timezone, country, source, tags, traits) values ${tuples.join(',')}
       on conflict (lower(email)) do nothing`,
      values,
    );
  }
  const seconds = (performance.now() - started) / 1000;
  await pool.end();
  return ROWS / seconds;
}

async function main(): Promise<void> {
  const work = await mkdtemp(path.join(os.tmpdir(), 'baton-bench-'));
  const file = path.join(work, 'leads.csv');
  await generateCsv(file, 'bench.example.com');
  const database = await withDatabase();
  const baton = await startBaton(database.url ? { DATABASE_URL: database.url } : { BATON_DATA_DIR: path.join(work, 'data') });
  try {
    const idleRss = await peakRssMb(baton.pid);
    const started = performance.now();
    const report = await upload(baton.url, file);
    const seconds = (performance.now() - started) / 1000;
    const batonRate = ROWS / seconds;
    const rss = await peakRssMb(baton.pid);
    if (report.created !== ROWS) throw new Error(`expected ${ROWS} created, got ${JSON.stringify(report)}`);

    const baselineRate = database.url ? await baseline(database.url) : null;
    console.log(`database:        ${database.url ? 'PostgreSQL server' : 'embedded PGlite'}`);
    console.log(`rows:            ${ROWS}`);
    console.log(`baton import:    ${Math.round(batonRate)} rows/s (${seconds.toFixed(2)} s, created ${report.created}, rejected ${report.rejected})`);
    if (baselineRate) {
      console.log(`baseline insert: ${Math.round(baselineRate)} rows/s (same rows, direct multi-row INSERT over pg)`);
      console.log(`ratio:           ${(batonRate / baselineRate).toFixed(2)}x of baseline`);
    }
    console.log(`peak RSS:        ${rss.toFixed(0)} MB (Baton process, VmHWM; ${idleRss.toFixed(0)} MB before the import)`);
  } finally {
    await baton.stop();
    await database.drop();
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
