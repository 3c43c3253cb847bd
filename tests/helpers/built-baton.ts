import { spawn } from 'node:child_process';
import { mkdir, rmdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/*
 * Tests that start Baton or its CLI as a process run the compiled dist/, as `npm start` and
 * `npx baton` do, not `node --import tsx src/…`: tsx compiles every module of every process again
 * (about 3 s of each start on this 2-core machine, 5.1 s against 2.1 s to a configuration error),
 * and the CLI and process tests start dozens. The build is `scripts/build-if-changed.mjs`, the
 * one `npm start` runs: a few milliseconds when dist/ is up to date, an incremental tsc otherwise.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const LOCK = path.join(ROOT, 'dist', '.test-build-lock');
// A lock older than this was left by a killed test run.
const STALE_LOCK_MS = 5 * 60_000;

let built: Promise<void> | null = null;

/** `node` arguments that run a compiled entry point (`main` is `npm start`, `cli` is `npx baton`). */
export async function builtBaton(entry: 'main' | 'cli'): Promise<string[]> {
  built ??= buildOnce();
  await built;
  return ['--enable-source-maps', path.join(ROOT, 'dist', `${entry}.js`)];
}

/** Builds dist/ if src/ changed, one test process at a time (two tsc runs would write the same files). */
async function buildOnce(): Promise<void> {
  await mkdir(path.dirname(LOCK), { recursive: true });
  await takeLock();
  try {
    const { code, output } = await runBuild();
    if (code !== 0) throw new Error(`building dist/ for the process tests failed (exit ${code}):\n${output}`);
  } finally {
    await rmdir(LOCK);
  }
}

async function takeLock(): Promise<void> {
  for (;;) {
    try {
      await mkdir(LOCK);
      return;
    } catch (error) {
      if (!hasCode(error, 'EEXIST')) throw error;
    }
    const since = await stat(LOCK).then(
      (lock) => Date.now() - lock.mtimeMs,
      () => 0,
    );
    if (since > STALE_LOCK_MS) await rmdir(LOCK).catch(() => undefined);
    // Another test file is building; it takes seconds, so look again shortly.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function runBuild(): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'build-if-changed.mjs'), '--quiet'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

// Not `instanceof Error`: under Jest, Node's own errors come from another realm.
function hasCode(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === code;
}
