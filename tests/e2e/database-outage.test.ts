import http from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import request from 'supertest';
import { caughtMail } from '../helpers/caught-mail.js';
import { startBatonProcess, type BatonProcess } from '../helpers/baton-process.js';
import { startThrowawayPostgres, throwawayPostgresUnavailable, type ThrowawayPostgres } from '../helpers/throwaway-postgres.js';

/*
 * The database goes away under load, as it does in a managed-database failover or an operator's
 * restart: a cluster of the test's own is restarted ten times, then frozen with SIGSTOP for 15 s,
 * while events and clicks keep coming. The api and worker processes must never exit, must answer
 * 503 `database_unavailable` within 2 s while it is down, must recover on their own, and every
 * event answered 202 and every click answered 302 must be stored.
 */

const API_KEY = 'outage-test-key-0123456789';
// The default bound: the memory test measures what an installation gets.
const BUFFER_MAX = 50_000;
const SECRET = 'outage-secret-0123456789abcdef0123456789';
const unavailable = throwawayPostgresUnavailable();
if (unavailable) console.warn(`database outage test skipped: ${unavailable}`);
const describeWithCluster = unavailable ? describe.skip : describe;

const content: Record<string, string> = {
  'templates/welcome.mjml': `---
subject: Welcome
links:
  guide: https://example.com/guide?utm_source=baton&utm_campaign=outage
---
<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{lead.firstName}}</mj-text><mj-button href="{{links.guide}}">Guide</mj-button><mj-text>{{company.postalAddress}} <a href="{{links.unsubscribe}}">Unsubscribe</a></mj-text></mj-column></mj-section></mj-body></mjml>
`,
  'templates/handoff-briefing.mjml': `---
subject: "New lead: {{lead.email}}"
category: transactional
---
<mjml><mj-body><mj-section><mj-column><mj-text>{{lead.email}} is ready.</mj-text></mj-column></mj-section></mj-body></mjml>
`,
  'sequences/welcome.yaml': `id: welcome
name: Welcome
version: 1
status: active
entry:
  trigger: { type: lead_created }
steps:
  - id: hello
    email: welcome
  - id: done
    end: true
`,
  'scoring.yaml': `half_life: 30d
grades: { A: 30, B: 20, C: 10 }
behaviour:
  - { id: pricing, label: Pricing, event: page_view, where: { path: /pricing }, points: 5 }
lifecycle:
  mql: { engagement: 1000, min_grade: D }
`,
  'sales-team.yaml': `fallback_owner: dana
sla:
  remind_after: 1s
  reassign_after: 2s
reps:
  - id: dana
    name: Dana Reyes
    email: dana@sales.test
`,
};

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  return Math.round(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

/** `count` GETs of one URL over `connections` keep-alive sockets; the count of each status. */
async function clickFlood(url: string, count: number, connections: number): Promise<Map<number, number>> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const statuses = new Map<number, number>();
  let sent = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const req = http.get(url, { agent, headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' } }, (res) => {
        statuses.set(res.statusCode ?? 0, (statuses.get(res.statusCode ?? 0) ?? 0) + 1);
        res.resume();
        res.on('end', resolve);
      });
      req.on('error', () => {
        statuses.set(0, (statuses.get(0) ?? 0) + 1);
        resolve();
      });
    });
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (sent < count) {
        sent++;
        await one();
      }
    }),
  );
  agent.destroy();
  return statuses;
}

interface Tally {
  eventsAccepted: Set<string>;
  clicksRedirected: number;
  unavailable503: number;
  otherStatuses: Map<string, number>;
  /** Longest time any request took to get an answer, in ms. */
  slowestMs: number;
  /** Requests that took over 2 s: what, when (ms since the load began), how long, the answer. */
  slow: string[];
  began: number;
  /** When the cluster was stopped or frozen (epoch ms): an answer is due 2 s after the later of its request and the last of these. */
  wentDown: number[];
  /** What happened to the cluster when, in ms since the load began. */
  timeline: string[];
}

describeWithCluster('a PostgreSQL server that restarts and freezes under load', () => {
  let cluster: ThrowawayPostgres;
  let dir: string;
  let api: BatonProcess;
  let worker: BatonProcess;
  /** A real tracked link, from the welcome email of a lead made before the tests. */
  let clickUrl = '';

  beforeAll(async () => {
    cluster = await startThrowawayPostgres();
    dir = await mkdtemp(path.join(os.tmpdir(), 'baton-outage-'));
    for (const [file, text] of Object.entries(content)) {
      await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
      await writeFile(path.join(dir, file), text);
    }
    const env = {
      DATABASE_URL: cluster.url,
      PORT: '0',
      BATON_DATA_DIR: dir,
      BATON_TEMPLATES_DIR: path.join(dir, 'templates'),
      BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
      BATON_API_KEY: API_KEY,
      BATON_SECRET: SECRET,
    };
    api = await startBatonProcess(env, ['--role', 'api']);
    worker = await startBatonProcess(env, ['--role', 'worker']);
    const created = await fetch(`${api.url}/api/leads`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ email: 'steady@outage.test', firstName: 'Zoë' }),
    });
    if (created.status !== 201) throw new Error(`could not create the lead: ${created.status}`);
    const [welcome] = await caughtMail(request(api.url ?? ''), auth).waitForMails('steady@outage.test', 1, 30_000);
    // The link's origin is BATON_PUBLIC_URL (port 0 here): the path is what matters.
    const clickPath = /href="http[^"]+?(\/c\/[^"]+)"/.exec(String(welcome?.html))?.[1];
    if (!clickPath) throw new Error('the welcome email has no tracked link');
    clickUrl = `${api.url}${clickPath}`;
  }, 120_000);

  afterAll(async () => {
    await api?.terminate();
    await worker?.terminate();
    await cluster?.destroy();
    await rm(dir, { recursive: true, force: true });
  }, 60_000);

  const auth = { Authorization: `Bearer ${API_KEY}`, 'Content-Type': 'application/json' };

  async function timed(url: string, init: RequestInit, tally: Tally): Promise<Response | null> {
    const started = Date.now();
    try {
      const response = await fetch(url, { ...init, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      const answered = Date.now();
      const took = answered - started;
      tally.slowestMs = Math.max(tally.slowestMs, took);
      // A request made while the database was up and caught by an outage is due 2 s after the outage began.
      const due = Math.max(started, ...tally.wentDown.filter((at) => at <= answered)) + 2000;
      if (answered > due)
        tally.slow.push(`${init.method ?? 'GET'} ${new URL(url).pathname.slice(0, 12)} at ${started - tally.began} ms took ${took} ms: ${response.status}`);
      return response;
    } catch (error) {
      tally.slowestMs = Math.max(tally.slowestMs, Date.now() - started);
      const key = `${init.method ?? 'GET'} failed: ${String(error)} ${String((error as { cause?: unknown }).cause)}`;
      tally.otherStatuses.set(key, (tally.otherStatuses.get(key) ?? 0) + 1);
      return null;
    }
  }

  /** A steady load of one event (for one of ten leads in turn) and one click every 50 ms until `until` resolves. */
  async function loadUntil(until: Promise<void>, clickUrl: string, tally: Tally, label: string): Promise<void> {
    let done = false;
    void until.finally(() => (done = true));
    let n = 0;
    const inFlight: Array<Promise<void>> = [];
    while (!done) {
      const email = `steady${n % 10}@outage.test`;
      const id = `${label}-${n++}`;
      inFlight.push(
        (async () => {
          const response = await timed(
            `${api.url}/api/events`,
            { method: 'POST', headers: auth, body: JSON.stringify({ email, type: 'page_view', properties: { path: '/pricing', load: id } }) },
            tally,
          );
          if (!response) return;
          const body = await response.text();
          if (response.status === 202) tally.eventsAccepted.add(id);
          else if (response.status === 503 && body.includes('database_unavailable')) tally.unavailable503++;
          else tally.otherStatuses.set(`event ${response.status} ${body.slice(0, 120)}`, (tally.otherStatuses.get(`event ${response.status}`) ?? 0) + 1);
        })(),
      );
      inFlight.push(
        (async () => {
          const response = await timed(clickUrl, { headers: { 'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0' } }, tally);
          if (!response) return;
          await response.text();
          if (response.status === 302) tally.clicksRedirected++;
          else if (response.status !== 503) tally.otherStatuses.set(`click ${response.status}`, (tally.otherStatuses.get(`click ${response.status}`) ?? 0) + 1);
        })(),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await Promise.all(inFlight);
  }

  async function waitForHealth(url: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const response = await fetch(`${url}/health`).catch(() => null);
      if (response?.status === 200) return;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error(`${url} did not become healthy in ${timeoutMs} ms`);
  }

  async function storedCounts(): Promise<{ loadEvents: Set<string>; clicks: number }> {
    const client = new pg.Client({ connectionString: cluster.url });
    await client.connect();
    try {
      const events = await client.query<{ load: string }>(`select properties->>'load' as load from events where type = 'page_view' and properties ? 'load'`);
      const clicks = await client.query<{ count: string }>(`select count(*) from events where type = 'email_clicked'`);
      return { loadEvents: new Set(events.rows.map((row) => row.load)), clicks: Number(clicks.rows[0]?.count ?? 0) };
    } finally {
      await client.end();
    }
  }

  it('never exits, answers 503 while down, recovers, and stores every event answered 202 and every click answered 302', async () => {
    const tally: Tally = {
      eventsAccepted: new Set(),
      clicksRedirected: 0,
      unavailable503: 0,
      otherStatuses: new Map(),
      slowestMs: 0,
      slow: [],
      began: Date.now(),
      wentDown: [],
      timeline: [],
    };
    const mark = (what: string) => tally.timeline.push(`${what} at ${Date.now() - tally.began} ms`);
    const restarts = (async () => {
      for (let round = 0; round < 10; round++) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        mark(`restart ${round}`);
        tally.wentDown.push(Date.now());
        await cluster.restart(1500);
        mark(`up again ${round}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1500));
      mark('freeze');
      tally.wentDown.push(Date.now());
      await cluster.freeze();
      await new Promise((resolve) => setTimeout(resolve, 15_000));
      mark('thaw');
      await cluster.thaw();
      await new Promise((resolve) => setTimeout(resolve, 1500));
    })();
    await loadUntil(restarts, clickUrl, tally, 'load');

    for (const process of [api, worker]) {
      if (process.child.exitCode !== null) throw new Error(`a Baton process exited with ${process.child.exitCode}:\n${process.output().slice(-6000)}`);
    }
    await waitForHealth(api.url ?? '', 20_000);

    // Clicks answered 302 wait in the buffer until the database is back.
    let stored = await storedCounts();
    const deadline = Date.now() + 30_000;
    while (stored.clicks < tally.clicksRedirected && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      stored = await storedCounts();
    }
    // The worker works again on its own: a lead made now gets its welcome email.
    const after = await fetch(`${api.url}/api/leads`, { method: 'POST', headers: auth, body: JSON.stringify({ email: 'after@outage.test' }) });
    const welcomed = await caughtMail(request(api.url ?? ''), auth)
      .waitForMails('after@outage.test', 1, 30_000)
      .then(
        (mails) => mails.length,
        () => 0,
      );

    if (tally.slow.length > 0) console.log(`slow answers:\n${tally.slow.join('\n')}\ncluster:\n${tally.timeline.join('\n')}`);
    expect({
      // Every answer came within 2 s of the request or of the outage that caught it: 503 while down, never a hang.
      slow: tally.slow,
      other: Object.fromEntries(tally.otherStatuses),
      sawUnavailable: tally.unavailable503 > 0,
      enoughLoad: tally.eventsAccepted.size > 100 && tally.clicksRedirected > 100,
      lostEvents: [...tally.eventsAccepted].filter((id) => !stored.loadEvents.has(id)),
      clicksStored: stored.clicks - tally.clicksRedirected,
      createdAfter: after.status,
      welcomed,
    }).toEqual({ slow: [], other: {}, sawUnavailable: true, enoughLoad: true, lostEvents: [], clicksStored: 0, createdAfter: 201, welcomed: 1 });
  }, 300_000);

  it('keeps at most BATON_TRACKING_BUFFER_MAX clicks while the database is away, in under 300 MB, counts the rest, and stores what it kept', async () => {
    const before = await storedCounts();
    await cluster.stop();
    const clicks = BUFFER_MAX + 30_000;
    const pid = api.child.pid ?? 0;
    const idleRssMb = await rssMb(pid);
    let peakRssMb = 0;
    const sampler = setInterval(() => void rssMb(pid).then((mb) => (peakRssMb = Math.max(peakRssMb, mb))), 200);
    const statuses = await clickFlood(clickUrl, clicks, 64);
    clearInterval(sampler);
    peakRssMb = Math.max(peakRssMb, await rssMb(pid));
    const whileDown = (await (await fetch(`${api.url}/health`)).json()) as { tracking: { pending: number; dropped: number } };
    await cluster.start();
    await waitForHealth(api.url ?? '', 30_000);
    let stored = await storedCounts();
    const deadline = Date.now() + 60_000;
    while (stored.clicks < before.clicks + BUFFER_MAX && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      stored = await storedCounts();
    }
    console.log(
      `click flood with the database away: ${clicks} clicks, api RSS ${idleRssMb} MB before, ${peakRssMb} MB at most, ${JSON.stringify(whileDown.tracking)}`,
    );
    expect({
      redirected: statuses.get(302),
      underLimit: peakRssMb < 300 ? 'under 300 MB' : `${peakRssMb} MB`,
      whileDown: whileDown.tracking,
      storedAfter: stored.clicks - before.clicks,
      exited: [api.child.exitCode, worker.child.exitCode],
    }).toEqual({
      redirected: clicks,
      underLimit: 'under 300 MB',
      whileDown: { pending: BUFFER_MAX, dropped: clicks - BUFFER_MAX },
      storedAfter: BUFFER_MAX,
      exited: [null, null],
    });
  }, 300_000);
});
