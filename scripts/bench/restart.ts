/*
 * `npm run bench:restart`: how long `npm start` takes, from the command to the first 200 from
 * /health, when nothing changed since the last start: the build step finds dist/ up to date and
 * Baton reopens its embedded database and MJML cache. One first start (built, database created),
 * then RESTARTS (default 5) restarts, each stopped with SIGTERM as Ctrl-C would.
 *
 *   npm run bench:restart
 *   RESTARTS=10 npm run bench:restart
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RESTARTS = Number(process.env.RESTARTS ?? 5);
const TARGET_MS = 10_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function healthy(url: string): Promise<boolean> {
  try {
    return (await fetch(`${url}/health`)).status === 200;
  } catch {
    return false;
  }
}

/** `npm start` in a process group of its own (npm → sh → node), so that stopping it stops all. */
async function startOnce(env: Record<string, string>, port: number): Promise<{ ms: number; stop: () => Promise<void> }> {
  if (await healthy(`http://127.0.0.1:${port}`)) throw new Error(`something already answers on port ${port}`);
  const started = performance.now();
  const child: ChildProcess = spawn('npm', ['start', '--silent'], { cwd: ROOT, env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  let output = '';
  child.stderr?.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // npm exits on SIGTERM before Baton has finished stopping: wait until the whole group is gone,
  // or the next start would find the old Baton still answering on the port.
  const groupAlive = () => {
    try {
      process.kill(-(child.pid ?? 0), 0);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async () => {
    if (child.pid !== undefined && groupAlive()) process.kill(-child.pid, 'SIGTERM');
    await exited;
    const deadline = Date.now() + 60_000;
    while (groupAlive() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  };
  const url = `http://127.0.0.1:${port}`;
  while (!(await healthy(url))) {
    if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output}`);
    if (performance.now() - started > 300_000) {
      await stop();
      throw new Error(`no healthy Baton after 300 s:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ms: performance.now() - started, stop };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-bench-restart-'));
  const port = await freePort();
  const env = { BATON_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  try {
    const first = await startOnce(env, port);
    await first.stop();
    console.log(`first start (builds if sources changed, creates the database): ${(first.ms / 1000).toFixed(1)} s`);
    const times: number[] = [];
    for (let run = 1; run <= RESTARTS; run++) {
      const restart = await startOnce(env, port);
      await restart.stop();
      times.push(restart.ms);
      console.log(`restart ${run}: ${(restart.ms / 1000).toFixed(1)} s to a healthy /health`);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    console.log(`restarts with unchanged sources: median ${(median / 1000).toFixed(1)} s, min ${((sorted[0] ?? 0) / 1000).toFixed(1)} s, max ${((sorted.at(-1) ?? 0) / 1000).toFixed(1)} s (target under ${TARGET_MS / 1000} s: ${median < TARGET_MS ? 'met' : 'missed'}); load average ${os.loadavg().map((load) => load.toFixed(1)).join(' ')}`);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
