import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import pg from 'pg';
import { SMTPServer } from 'smtp-server';

/* What the benchmarks that run Baton as processes share: a database of their own, and Baton from dist/. */

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** A fresh database on the server at `serverUrl`, named after the benchmark and this process; `drop` removes it. */
export async function createBenchDatabase(serverUrl: string, label: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `baton_bench_${label}_${process.pid}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(statement);
    await client.end();
  };
  await admin(`drop database if exists ${name} with (force)`);
  await admin(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

export interface BatonProcess {
  child: ChildProcess;
  /** Resolves with the HTTP URL (api, all) or null (worker) once the process says it runs. */
  started: Promise<string | null>;
  /** Rejects if the process exits before stop() is called. */
  crashed: Promise<never>;
  output(): string;
  stop(): Promise<void>;
}

/** `node dist/main.js --role <role>` with only PATH, HOME and `env` (build first). */
export function spawnBaton(role: 'all' | 'api' | 'worker', env: Record<string, string>, nodeArgs: string[] = []): BatonProcess {
  const child = spawn(process.execPath, [...nodeArgs, 'dist/main.js', '--role', role], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', SHUTDOWN_TIMEOUT_MS: '5000', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let stopping = false;
  const crashed = new Promise<never>((_resolve, reject) => {
    child.once('exit', (code) => {
      if (!stopping) reject(new Error(`Baton ${role} exited with ${code}: ${output.slice(-4000)}`));
    });
  });
  crashed.catch(() => undefined);
  const started = new Promise<string | null>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      // Keep the start and the end of a long log: the start says why a process failed to boot.
      output = output.length > 200_000 ? `${output.slice(0, 50_000)}\n…\n${output.slice(-50_000)}${String(chunk)}` : output + String(chunk);
      const url = /Baton is running at (http:\/\/\S+)/.exec(output)?.[1];
      if (role !== 'worker' && url) resolve(url);
      if (role === 'worker' && output.includes('"msg":"worker started"')) resolve(null);
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    crashed.catch(reject);
  });
  started.catch(() => undefined);
  return {
    child,
    started,
    crashed,
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * An SMTP sink on loopback that hands each message's header block (up to 64 KB) and size to
 * `record` before it answers 250 with `reply`: the benchmark's clock stops at acceptance.
 */
export async function listenSmtpSink(record: (head: string, size: number) => void, reply: string): Promise<{ server: SMTPServer; port: number }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      let head = '';
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (head.length < 65_536 && !head.includes('\r\n\r\n')) head += chunk.toString('latin1');
      });
      stream.on('end', () => {
        record(head, size);
        callback(null, reply);
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('sink has no TCP address');
  return { server, port: address.port };
}
