/*
 * An open-loop load generator: sends GET requests at a fixed rate, whatever the server's speed,
 * and measures each latency from when the request was due, not from when it was sent (a slow
 * server cannot hide its queueing: no coordinated omission). wrk keeps a fixed number of requests
 * in flight and has no fixed-rate mode, hence this. Runs as its own process so that it does not
 * share an event loop with the server it measures.
 *
 *   tsx scripts/bench/fixed-rate-load.ts URL RATE SECONDS   → one JSON line on stdout
 */
import http from 'node:http';

const [url = '', rateText = '5000', secondsText = '10'] = process.argv.slice(2);
const rate = Number(rateText);
const seconds = Number(secondsText);
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const target = new URL(url);

const latencies: number[] = [];
let errors = 0;
let wrongStatus = 0;
let sent = 0;
const total = Math.round(rate * seconds);
const started = performance.now();

function fire(dueAt: number): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname + target.search, method: 'GET' }, (res) => {
      if (res.statusCode !== 302) wrongStatus++;
      res.resume();
      res.on('end', () => {
        latencies.push(performance.now() - dueAt);
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function main(): Promise<void> {
  const inFlight: Array<Promise<void>> = [];
  // Every millisecond tick, send what has come due since the last one.
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - started;
      const due = Math.min(total, Math.floor((elapsed / 1000) * rate));
      while (sent < due) {
        const dueAt = started + (sent / rate) * 1000;
        inFlight.push(fire(dueAt));
        sent++;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
  await Promise.all(inFlight);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN;
  process.stdout.write(
    `${JSON.stringify({ rate, seconds, sent, answered: latencies.length, errors, wrongStatus, achieved: Math.round(latencies.length / elapsed), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: latencies.at(-1) ?? NaN })}\n`,
  );
  agent.destroy();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
