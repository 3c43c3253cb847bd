import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/*
 * A real Postfix (Debian's package; `.ci/run` installs it) started with a configuration directory
 * of its own: its own queue, one smtpd on a loopback port, no chroot, no local delivery, and a
 * transport map that sends each test domain to a loopback SMTP server. Postfix's master runs as
 * root and drops to the `postfix` user, so this needs root, as CI has.
 */

const run = promisify(execFile);
export const POSTFIX = '/usr/sbin/postfix';

/** Why Postfix cannot run here, or null when it can. */
export function postfixUnavailable(): string | null {
  if (!existsSync(POSTFIX)) return `${POSTFIX} is not installed (Debian package postfix; .ci/run installs it)`;
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return "Postfix's master process must be started as root";
  return null;
}

export interface TestPostfix {
  /** smtp://127.0.0.1:PORT, the relay Baton sends through. */
  url: string;
  dir: string;
  /** Postfix's own log, for a failing test's message. */
  log(): Promise<string>;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `routes`: recipient domain → loopback port of the SMTP server Postfix relays that domain to. */
export async function startPostfix(routes: Record<string, number>): Promise<TestPostfix> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'baton-postfix-'));
  await chmod(dir, 0o755);
  const port = await freePort();
  const queue = path.join(dir, 'queue');
  const data = path.join(dir, 'data');
  await mkdir(queue, { recursive: true });
  await mkdir(data, { recursive: true });
  // master.lock and the TLS caches live here, written by the unprivileged daemons.
  await run('chown', ['postfix:', data]);
  const transport = Object.entries(routes)
    .map(([domain, to]) => `${domain} smtp:[127.0.0.1]:${to}`)
    .join('\n');
  await writeFile(path.join(dir, 'transport'), `${transport}\n`);
  await writeFile(
    path.join(dir, 'main.cf'),
    [
      'compatibility_level = 3.6',
      `queue_directory = ${queue}`,
      `data_directory = ${data}`,
      'mail_owner = postfix',
      'myhostname = mta.baton-test.example',
      'mydomain = baton-test.example',
      'myorigin = $myhostname',
      'mydestination =',
      'local_recipient_maps =',
      'alias_maps =',
      'alias_database =',
      'inet_interfaces = 127.0.0.1',
      'inet_protocols = ipv4',
      'mynetworks = 127.0.0.0/8',
      'relayhost =',
      `transport_maps = texthash:${path.join(dir, 'transport')}`,
      // Only the test's domains leave; anything else stays deferred instead of reaching the Internet.
      'default_transport = error:no route outside the test',
      `relay_domains = ${Object.keys(routes).join(' ')}`,
      'smtpd_relay_restrictions = permit_mynetworks, reject',
      'smtpd_recipient_restrictions = permit_mynetworks, reject',
      'smtpd_peername_lookup = no',
      'smtp_dns_support_level = disabled',
      'smtp_tls_security_level = none',
      'smtp_connection_cache_on_demand = no',
      'smtpd_tls_security_level = none',
      'queue_run_delay = 1s',
      'minimal_backoff_time = 1s',
      'maximal_backoff_time = 2s',
      // Postfix logs to syslog by default, and there is none in a container: to a file of its own.
      `maillog_file = ${path.join(dir, 'maillog')}`,
      `maillog_file_prefixes = ${dir}`,
      'notify_classes =',
      '',
    ].join('\n'),
  );
  // No chroot (the queue is not under /var/spool/postfix); postlog writes maillog_file.
  await writeFile(
    path.join(dir, 'master.cf'),
    [
      `127.0.0.1:${port} inet n - n - - smtpd`,
      'pickup    unix  n - n 60 1 pickup',
      'cleanup   unix  n - n - 0 cleanup',
      'qmgr      unix  n - n 300 1 qmgr',
      'tlsmgr    unix  - - n 1000? 1 tlsmgr',
      'rewrite   unix  - - n - - trivial-rewrite',
      'bounce    unix  - - n - 0 bounce',
      'defer     unix  - - n - 0 bounce',
      'trace     unix  - - n - 0 bounce',
      'verify    unix  - - n - 1 verify',
      'flush     unix  n - n 1000? 0 flush',
      'proxymap  unix  - - n - - proxymap',
      'smtp      unix  - - n - - smtp',
      'relay     unix  - - n - - smtp',
      'showq     unix  n - n - - showq',
      'error     unix  - - n - - error',
      'retry     unix  - - n - - error',
      'discard   unix  - - n - - discard',
      'anvil     unix  - - n - 1 anvil',
      'scache    unix  - - n - 1 scache',
      'postlog   unix-dgram n - n - 1 postlogd',
      '',
    ].join('\n'),
  );
  const postfix = (...args: string[]) => run(POSTFIX, ['-c', dir, ...args], { timeout: 120_000 });
  const stop = async () => {
    // Graceful first (the master reaps its daemons); abort if that fails. Under load a stop once
    // outlasted a 60 s hook and left a master running: the test's hooks now allow 180 s.
    await postfix('stop')
      .catch(() => postfix('abort'))
      .catch(() => undefined);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  };
  try {
    await postfix('start');
    await waitForPort(port);
  } catch (error) {
    // Whatever failed, this instance must not outlive the test. postfix prints its reasons on a
    // terminal only; they are in the maillog.
    const log = await readFile(path.join(dir, 'maillog'), 'utf8').catch(() => '');
    await stop();
    throw new Error(
      `Postfix did not start: ${(error as Error).message}\n${log
        .split('\n')
        .filter((line) => !line.includes('warning: not owned'))
        .slice(-15)
        .join('\n')}`,
    );
  }
  return {
    url: `smtp://127.0.0.1:${port}`,
    dir,
    log: () => readFile(path.join(dir, 'maillog'), 'utf8').catch(() => '(no maillog)'),
    stop,
  };
}

async function waitForPort(port: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    if (Date.now() > deadline) throw new Error(`Postfix did not listen on 127.0.0.1:${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
