import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/*
 * A PostgreSQL cluster of the test's own, on a loopback port, that the test may restart, stop and
 * freeze without touching the shared server. Made with Debian's initdb and pg_ctl, run as the
 * `postgres` user (initdb refuses root).
 */

export interface ThrowawayPostgres {
  url: string;
  port: number;
  /** Stops the server (fast mode: open connections are cut with 57P01) and starts it again after `downMs`. */
  restart(downMs: number): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops every process of the cluster with SIGSTOP: connections stay open but nothing answers. */
  freeze(): Promise<void>;
  thaw(): Promise<void>;
  destroy(): Promise<void>;
}

/** Why a throwaway cluster cannot be made here, or null when it can. */
export function throwawayPostgresUnavailable(): string | null {
  if (!existsSync(binDir())) return 'PostgreSQL server binaries are not installed (postgresql-15)';
  if (process.getuid?.() !== 0) return 'making a cluster as the postgres user needs root';
  return null;
}

function binDir(): string {
  return process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin';
}

async function asPostgres(command: string, args: string[]): Promise<string> {
  const { stdout } = await run('runuser', ['-u', 'postgres', '--', path.join(binDir(), command), ...args], { timeout: 60_000 });
  return stdout;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'baton-pg-'));
  await chmod(root, 0o777);
  const dataDir = path.join(root, 'data');
  const port = await freePort();
  await asPostgres('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${root} -c fsync=off -c max_connections=100`;
  const start = () => asPostgres('pg_ctl', ['-D', dataDir, '-o', options, '-l', path.join(root, 'log'), '-w', '-t', '60', 'start']);
  const stop = () => asPostgres('pg_ctl', ['-D', dataDir, '-m', 'fast', '-w', '-t', '60', 'stop']);
  await start();

  const clusterPids = async (): Promise<number[]> => {
    const postmaster = Number((await readFile(path.join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
    const { stdout } = await run('pgrep', ['-P', String(postmaster)]).catch(() => ({ stdout: '' }));
    return [postmaster, ...stdout.split('\n').filter(Boolean).map(Number)];
  };
  const signalCluster = async (signal: NodeJS.Signals) => {
    for (const pid of await clusterPids()) {
      try {
        process.kill(pid, signal);
      } catch {
        // A backend that ended between the listing and the signal.
      }
    }
  };

  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    async restart(downMs) {
      await stop();
      await new Promise((resolve) => setTimeout(resolve, downMs));
      await start();
    },
    stop: async () => void (await stop()),
    start: async () => void (await start()),
    freeze: () => signalCluster('SIGSTOP'),
    thaw: () => signalCluster('SIGCONT'),
    async destroy() {
      await signalCluster('SIGCONT').catch(() => undefined);
      await asPostgres('pg_ctl', ['-D', dataDir, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
      await rm(root, { recursive: true, force: true });
    },
  };
}
