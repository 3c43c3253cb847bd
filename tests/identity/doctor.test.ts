import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { SMTPServer } from 'smtp-server';
import { runDoctor, type DoctorInput } from '../../src/identity/doctor.js';
import { probePublicUrl, probeSmtpTls } from '../../src/identity/doctor-probes.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { CommandFailed, endStartedProcesses, runCommand } from '../helpers/process-group.js';
import { makeTestCertificates, type TestCertificates } from '../helpers/test-ca.js';

/*
 * `baton doctor` against a DNS server on loopback (real DNS packets through node:dns), SMTP
 * servers with STARTTLS (a certificate from the test's own authority, and a self-signed one) and a public URL on loopback.
 */

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const KEY_ONE_LINE = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim().split('\n').join('\\n');
const PUBLIC = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
const OTHER_PUBLIC = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');

let dir: string;
let certificates: TestCertificates;
let dns: DnsServer;
const closers: Array<() => Promise<void>> = [];

const listening = async (server: http.Server | https.Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
};
const health = (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end('{"status":"ok"}');
};
async function smtpServer(tls: { key: string; cert: string }): Promise<string> {
  const server = new SMTPServer({ authOptional: true, logger: false, ...tls });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => new Promise((resolve) => server.close(() => resolve())));
  return `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
}

let trustedSmtp: string;
let selfSignedSmtp: string;
let httpsUrl: string;
let httpUrl: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-doctor-'));
  certificates = await makeTestCertificates(dir);
  dns = await startDnsServer({
    'acme.example': { TXT: ['v=spf1 ip4:192.0.2.10 include:_spf.relay.example -all', 'google-site-verification=abc'] },
    '_dmarc.acme.example': { TXT: ['v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.example'] },
    's1._domainkey.acme.example': { TXT: [[`v=DKIM1; k=rsa; p=${PUBLIC.slice(0, 250)}`, PUBLIC.slice(250)]] },
    'bounce.acme.example': {
      TXT: ['v=spf1 ip4:192.0.2.10 -all'],
      MX: [
        { priority: 20, exchange: 'mx2.acme.example' },
        { priority: 10, exchange: 'mx1.acme.example' },
      ],
    },
    // A broken sender: no SPF, DMARC nowhere, a DKIM record with another key, two SPF records and no MX on its bounce domain.
    'news.broken.example': { TXT: ['hello'] },
    's1._domainkey.broken.example': { TXT: [`v=DKIM1; k=rsa; p=${OTHER_PUBLIC}`] },
    'bounce.broken.example': { TXT: ['v=spf1 -all', 'v=spf1 include:x.example -all'] },
    'open.example': { TXT: ['v=spf1 +all'] },
  });
  trustedSmtp = await smtpServer({ key: certificates.keyPem, cert: certificates.certPem });
  selfSignedSmtp = await smtpServer({ key: certificates.selfSigned.keyPem, cert: certificates.selfSigned.certPem });
  httpsUrl = `https://localhost:${await listening(https.createServer({ key: certificates.keyPem, cert: certificates.certPem }, health))}`;
  httpUrl = `http://127.0.0.1:${await listening(http.createServer(health))}`;
});
afterAll(async () => {
  for (const close of closers) await close();
  await dns.close();
  await rm(dir, { recursive: true, force: true });
});
afterEach(endStartedProcesses);

function deps() {
  const resolver = new Resolver({ timeout: 2000, tries: 1 });
  resolver.setServers([dns.address]);
  return { dns: resolver, probeSmtpTls: (url: string) => probeSmtpTls(url, certificates.caPem), probePublicUrl };
}
const statuses = (checks: Array<{ check: string; status: string }>) => Object.fromEntries(checks.map((check) => [check.check, check.status]));
const GOOD: DoctorInput = {
  production: false,
  mailFrom: 'Acme <hello@acme.example>',
  dkim: { domainName: 'acme.example', keySelector: 's1', privateKey: KEY_ONE_LINE },
  bounceDomain: 'bounce.acme.example',
  smtpUrl: '',
  publicUrl: '',
};

describe('baton doctor', () => {
  it('passes a sender whose records, relay and public URL are right', async () => {
    const checks = await runDoctor({ ...GOOD, smtpUrl: trustedSmtp, publicUrl: httpUrl }, deps());
    expect(statuses(checks)).toEqual({
      'From address': 'pass',
      'From SPF': 'pass',
      'From DMARC': 'pass',
      'DKIM key': 'pass',
      'DKIM alignment': 'pass',
      'Bounce SPF': 'pass',
      'Bounce MX': 'pass',
      'Bounce DMARC': 'pass',
      'Bounce alignment': 'pass',
      'Bounce DKIM': 'pass',
      'SMTP TLS': 'pass',
      'Public URL': 'warn',
    });
    const detail = (name: string) => checks.find((check) => check.check === name)?.detail;
    expect(detail('Bounce MX')).toBe('bounce.acme.example: 10 mx1.acme.example, 20 mx2.acme.example');
    // No record at _dmarc.bounce.acme.example: the organizational domain's policy applies.
    expect(detail('Bounce DMARC')).toBe('_dmarc.acme.example: "v=DMARC1; p=quarantine; rua=mailto:dmarc@acme.example"');
    expect(detail('Public URL')).toMatch(/over plain http: one-click unsubscribe \(RFC 8058\) needs https/);
    expect(dns.questions).toEqual(expect.arrayContaining(['s1._domainkey.acme.example TXT', 'bounce.acme.example MX', '_dmarc.bounce.acme.example TXT']));
  });

  it('fails what receivers would distrust, and says what to publish', async () => {
    const closed = http.createServer();
    const port = await listening(closed);
    await closers.pop()?.();
    const checks = await runDoctor(
      {
        ...GOOD,
        production: true,
        mailFrom: 'news@news.broken.example',
        dkim: { domainName: 'broken.example', keySelector: 's1', privateKey: KEY_ONE_LINE },
        bounceDomain: 'bounce.broken.example',
        smtpUrl: selfSignedSmtp,
        publicUrl: `https://127.0.0.1:${port}`,
      },
      deps(),
    );
    expect(statuses(checks)).toEqual({
      'From address': 'pass',
      'From SPF': 'fail',
      'From DMARC': 'fail',
      'DKIM key': 'fail',
      'DKIM alignment': 'pass',
      'Bounce SPF': 'fail',
      'Bounce MX': 'fail',
      'Bounce DMARC': 'fail',
      'Bounce alignment': 'pass',
      'Bounce DKIM': 'pass',
      'SMTP TLS': 'fail',
      'Public URL': 'fail',
    });
    const detail = (name: string) => checks.find((check) => check.check === name)?.detail ?? '';
    expect(detail('From SPF')).toMatch(/^news\.broken\.example has no SPF record/);
    expect(detail('DKIM key')).toBe(`s1._domainkey.broken.example: the published key is not the public half of DKIM_PRIVATE_KEY; publish p=${PUBLIC}`);
    expect(detail('Bounce SPF')).toMatch(/has 2 SPF records/);
    expect(detail('Bounce MX')).toMatch(/^bounce\.broken\.example has no MX record/);
    expect(detail('SMTP TLS')).toMatch(/self[- ]signed certificate/i);
  });

  it('says when the bounce domain or DKIM is not configured, and fails an SPF that lets anyone send', async () => {
    const checks = await runDoctor({ ...GOOD, mailFrom: 'hello@open.example', dkim: null, bounceDomain: null, smtpUrl: null, publicUrl: httpUrl }, deps());
    expect(statuses(checks)).toEqual({
      'From address': 'pass',
      'From SPF': 'fail',
      'From DMARC': 'fail',
      DKIM: 'warn',
      'Bounce domain': 'warn',
      'SMTP TLS': 'warn',
      'Public URL': 'warn',
    });
    expect(checks.find((check) => check.check === 'Bounce domain')?.detail).toMatch(/^BATON_BOUNCE_DOMAIN is not set/);
    expect(checks.find((check) => check.check === 'From SPF')?.detail).toMatch(/\+all: anyone may send/);
  });

  const root = fileURLToPath(new URL('../../', import.meta.url));
  const cli = (env: Record<string, string>) =>
    runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'doctor', '--dns-server', dns.address], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        BATON_DATA_DIR: dir,
        DKIM_DOMAIN: 'acme.example',
        DKIM_SELECTOR: 's1',
        DKIM_PRIVATE_KEY: KEY_ONE_LINE,
        ...env,
      },
    });

  it('as a command: one line per check and exit 0 when nothing fails (certificates trusted the system way)', async () => {
    const { stdout } = await cli({
      BATON_MAIL_FROM: 'Acme <hello@acme.example>',
      BATON_BOUNCE_DOMAIN: 'bounce.acme.example',
      SMTP_URL: trustedSmtp,
      BATON_PUBLIC_URL: httpsUrl,
      NODE_EXTRA_CA_CERTS: certificates.caFile,
    });
    expect(stdout).toMatch(/^ {2}PASS {2}From address {6}hello@acme\.example$/m);
    expect(stdout).toMatch(/^ {2}PASS {2}SMTP TLS .*STARTTLS with a trusted certificate$/m);
    expect(stdout).toMatch(/^ {2}PASS {2}Public URL .*answers 200 over https$/m);
    expect(stdout.trim().split('\n').at(-1)).toBe('0 failed, 0 warned, 12 passed');
  });

  it('as a command: exit 1 when a check fails', async () => {
    const failure = await cli({ BATON_MAIL_FROM: 'hello@news.broken.example', SMTP_URL: selfSignedSmtp, BATON_PUBLIC_URL: httpUrl }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CommandFailed);
    const { code, stdout } = failure as CommandFailed;
    expect(code).toBe(1);
    expect(stdout).toMatch(/^ {2}FAIL {2}From SPF .*no SPF record/m);
    expect(stdout).toMatch(/^ {2}WARN {2}Bounce domain .*BATON_BOUNCE_DOMAIN is not set/m);
  });
});
