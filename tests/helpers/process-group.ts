import { spawn, type ChildProcess } from 'node:child_process';

/*
 * Every process a test starts runs in a process group of its own (detached), so that it and
 * whatever it starts in turn (npx → node, npm run build → tsc) can be ended together. Each is
 * remembered until it exits; a test file calls `endStartedProcesses` in afterEach, and whatever a
 * failed or timed-out test left running is killed there, pass or fail. (A Baton left by a failing
 * test was once found still running at 505 MB, 16 minutes later.)
 */

const running = new Set<ChildProcess>();

export interface SpawnOptions {
  cwd: string;
  env: Record<string, string>;
}

/** Starts `command` in its own process group, output piped; remembered until it exits. */
export function spawnInGroup(command: string, args: string[], options: SpawnOptions): ChildProcess {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.add(child);
  child.once('exit', () => running.delete(child));
  // A spawn failure (no such file) is reported by 'exit' listeners' callers; without this it would throw.
  child.once('error', () => running.delete(child));
  return child;
}

const hasExited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/** Sends `signal` to the child's whole process group; a group already gone is not an error. */
export function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || hasExited(child)) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    // ESRCH: the group has no members left.
    if (!(typeof error === 'object' && error !== null && 'code' in error && error.code === 'ESRCH')) throw error;
  }
}

/** SIGKILLs the group of every process started and not yet exited, and waits until each has exited. */
export async function endStartedProcesses(): Promise<void> {
  const left = [...running].filter((child) => !hasExited(child));
  await Promise.all(
    left.map(
      (child) =>
        new Promise<void>((resolve) => {
          child.once('exit', () => resolve());
          signalGroup(child, 'SIGKILL');
          if (hasExited(child)) resolve();
        }),
    ),
  );
}

/** How many started processes have not exited: for tests of this module and for cleanup checks. */
export function startedProcessCount(): number {
  return [...running].filter((child) => !hasExited(child)).length;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Thrown (rejected) by `runCommand` when the command exits other than 0, as execFile does. */
export class CommandFailed extends Error {
  constructor(
    readonly code: number | null,
    readonly stdout: string,
    readonly stderr: string,
  ) {
    super(`command exited with ${code}:\n${stdout}\n${stderr}`);
  }
}

/**
 * Runs a command to its end, like `execFile`, in its own process group: past `timeoutMs` (if
 * given) the whole group is killed and the promise rejects; otherwise the test's own timeout and
 * `endStartedProcesses` end it. Resolves with the output on exit 0.
 */
export function runCommand(command: string, args: string[], options: SpawnOptions & { timeoutMs?: number }): Promise<CommandResult> {
  const { timeoutMs } = options;
  const child = spawnInGroup(command, args, options);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk) => (stdout += String(chunk)));
  child.stderr?.on('data', (chunk) => (stderr += String(chunk)));
  return new Promise((resolve, reject) => {
    const timer = timeoutMs === undefined ? undefined : setTimeout(() => signalGroup(child, 'SIGKILL'), timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ code, stdout, stderr });
      else
        reject(
          new CommandFailed(
            code,
            stdout,
            signal
              ? `${stderr}\n(ended by ${signal}${signal === 'SIGKILL' ? `, ${timeoutMs === undefined ? 'at the end of its test' : `after ${timeoutMs} ms or at the end of its test`}` : ''})`
              : stderr,
          ),
        );
    });
  });
}
