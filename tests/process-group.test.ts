import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startBatonProcess } from './helpers/baton-process.js';
import { CommandFailed, endStartedProcesses, runCommand, spawnInGroup, startedProcessCount } from './helpers/process-group.js';

/* The test helpers that start processes end them, and what those started, pass or fail. */

const ENV = { PATH: process.env.PATH ?? '' };
/** Alive, not a zombie: an orphan killed with its group may wait for a reaper that never comes. */
const isRunning = (pid: number) => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return false;
  }
};

afterEach(endStartedProcesses);

describe('processes started by tests', () => {
  it('end with everything they started when the test ends', async () => {
    // A parent that starts a child of its own and prints its pid, then runs forever, as a Baton would.
    const parent = spawnInGroup(
      process.execPath,
      [
        '-e',
        `
      const child = require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
      console.log(child.pid);
      setInterval(() => {}, 1000);
    `,
      ],
      { cwd: os.tmpdir(), env: ENV },
    );
    const childPid = await new Promise<number>((resolve) => parent.stdout?.once('data', (chunk) => resolve(Number(String(chunk).trim()))));
    expect([isRunning(parent.pid ?? 0), isRunning(childPid)]).toEqual([true, true]);

    await endStartedProcesses();

    expect(startedProcessCount()).toBe(0);
    expect(isRunning(parent.pid ?? 0)).toBe(false);
    // The grandchild dies with its group; the signal may take a moment to land.
    for (let tries = 0; tries < 50 && isRunning(childPid); tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(isRunning(childPid)).toBe(false);
  });

  it('a command past its time limit is killed and reported as failed', async () => {
    const failure = await runCommand(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { cwd: os.tmpdir(), env: ENV, timeoutMs: 300 }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CommandFailed);
    expect((failure as CommandFailed).stderr).toContain('ended by SIGKILL, after 300 ms');
    expect(startedProcessCount()).toBe(0);
  });

  it('a Baton that does not start in time is killed before startBatonProcess rejects', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'baton-slow-start-'));
    try {
      await expect(startBatonProcess({ BATON_DATA_DIR: dataDir, PORT: '0' }, [], { startTimeoutMs: 200 })).rejects.toThrow(/did not start in time \(killed\)/);
      expect(startedProcessCount()).toBe(0);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
