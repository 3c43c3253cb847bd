/*
 * `npm run bench:restart`: how long `npm start` takes, from the command to the first 200 from
 * /health, when nothing changed since the last start: the build step finds dist/ up to date and
 * Baton reopens its embedded database and MJML cache. One first start (built, database created),
 * then RESTARTS (default 5) restarts, each stopped with SIGTERM as Ctrl-C would. After each start
 * it waits SETTLE_MS (default 10 s) and reports Baton's memory: RSS then, and the peak (VmHWM).
 *
 *   npm run bench:restart
 *   RESTARTS=10 npm run bench:restart
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');
const RESTARTS = Number(process.env.RESTARTS ?? 5);
const TARGET_MS = 10_000;
const SETTLE_MS = Number(process.env.SETTLE_MS ?? 10_000);
const RSS_TARGET_MB = 400;

interface Memory {
  rssMb: number;
  peakMb: number;
}

/** The memory of the `node dist/main.js` process in the process group `group` (npm → sh → node). */
async function batonMemory(group: number): Promise<Memory | null> {
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which sits in parentheses: state ppid pgrp …
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      if (pgrp !== group) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
      // The shell that npm starts names dist/main.js too; Baton is the node process.
      if (!stat.includes('(node)') || !cmdline.includes('dist/main.js')) continue;
      const status = await readFile(`/proc/${entry}/status`, 'utf8');
      const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
      return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
    } catch {
      // The process ended while being read.
    }
  }
  return null;
}

async function settledMemory(group: number): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const memory = await batonMemory(group);
  return memory ? `RSS ${memory.rssMb.toFixed(0)} MB after ${SETTLE_MS / 1000} s (peak ${memory.peakMb.toFixed(0)} MB)` : 'RSS unknown (no /proc?)';
}

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
async function startOnce(env: Record<string, string>, port: number): Promise<{ ms: number; group: number; stop: () => Promise<void> }> {
  if (await healthy(`http://127.0.0.1:${port}`)) throw new Error(`something already answers on port ${port}`);
  const started = performance.now();
  const child: ChildProcess = spawn('npm', ['start', '--silent'], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
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
  return { ms: performance.now() - started, group: child.pid ?? 0, stop };
}

async function main(): Promise<void> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-bench-restart-'));
  const port = await freePort();
  const env = { BATON_DATA_DIR: dataDir, LOG_LEVEL: 'warn' };
  try {
    const first = await startOnce(env, port);
    const firstMemory = await settledMemory(first.group);
    await first.stop();
    console.log(
      `first start (builds if sources changed, creates the database): ${(first.ms / 1000).toFixed(1)} s; ${firstMemory} (target under ${RSS_TARGET_MB} MB)`,
    );
    const times: number[] = [];
    for (let run = 1; run <= RESTARTS; run++) {
      const restart = await startOnce(env, port);
      const memory = await settledMemory(restart.group);
      await restart.stop();
      times.push(restart.ms);
      console.log(`restart ${run}: ${(restart.ms / 1000).toFixed(1)} s to a healthy /health; ${memory}`);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    console.log(
      `restarts with unchanged sources: median ${(median / 1000).toFixed(1)} s, min ${((sorted[0] ?? 0) / 1000).toFixed(1)} s, max ${((sorted.at(-1) ?? 0) / 1000).toFixed(1)} s (target under ${TARGET_MS / 1000} s: ${median < TARGET_MS ? 'met' : 'missed'}); load average ${os
        .loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')}`,
    );
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
