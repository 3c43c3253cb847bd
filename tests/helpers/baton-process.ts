import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { builtBaton } from './built-baton.js';
import { FIXTURE_CONTENT } from './fixture-content.js';
import { signalGroup, spawnInGroup } from './process-group.js';

export { endStartedProcesses } from './process-group.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface BatonProcess {
  child: ChildProcess;
  url: string | null;
  output: () => string;
  /** Sends SIGTERM and resolves with the exit code. */
  terminate(): Promise<number | null>;
}

/**
 * Runs Baton as `npm start` does (`node dist/main.js`, built first if src/ changed), in a child process with only the environment given
 * (plus PATH and HOME, and the fixture content unless `env` names other), and waits until it
 * serves HTTP or, for a worker, logs that it started. One that does not start in time is killed
 * before the promise rejects; one that started is ended by `endStartedProcesses` (every caller
 * runs it in afterEach) if the test does not stop it.
 * Plain node, as `npm start`: the tsx CLI would wrap Baton in a second process that relays
 * signals and SIGKILLs the child (exit 143) when it does not acknowledge one within 30 ms, which
 * a busy event loop on a loaded machine misses.
 */
export async function startBatonProcess(env: Record<string, string>, args: string[] = [], options: { startTimeoutMs?: number } = {}): Promise<BatonProcess> {
  const child = spawnInGroup(process.execPath, [...(await builtBaton('main')), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
      BATON_SEQUENCES_DIR: FIXTURE_CONTENT.sequences,
      ...env,
    },
  });
  let output = '';
  child.stdout?.on('data', (chunk) => (output += String(chunk)));
  child.stderr?.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

  const url = await new Promise<string | null>((resolve, reject) => {
    let timedOut = false;
    // Rejected from the exit listener below, once the process has gone.
    const timer = setTimeout(() => {
      timedOut = true;
      signalGroup(child, 'SIGKILL');
    }, options.startTimeoutMs ?? 60_000);
    const check = () => {
      const match = /Baton is running at (http:\/\/\S+)/.exec(output);
      if (match?.[1] || /"msg":"worker started"/.test(output)) {
        clearTimeout(timer);
        resolve(match?.[1] ?? null);
      }
    };
    child.stdout?.on('data', check);
    child.stderr?.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(timedOut ? `Baton did not start in time (killed):\n${output}` : `Baton exited with ${code}:\n${output}`));
    });
  });

  return {
    child,
    url,
    output: () => output,
    async terminate() {
      child.kill('SIGTERM');
      return exited;
    },
  };
}
