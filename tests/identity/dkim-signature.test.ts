import { generateKeyPairSync } from 'node:crypto';
import { Resolver } from 'node:dns/promises';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
// An independent verifier: mailauth (Postal Systems), not code written for Baton.
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { SMTPServer } from 'smtp-server';
import { buildMailOptions } from '../../src/mail/mail-message.js';
import { createMailTransport } from '../../src/mail/mail-transport.js';
import { ConfigError, loadConfig } from '../../src/platform/config.js';
import { startDnsServer, type DnsServer } from '../helpers/dns-server.js';
import { CommandFailed, endStartedProcesses, runCommand } from '../helpers/process-group.js';

/*
 * Issue 12 §5: the DKIM key as people paste it (one line with `\n`, as in .env files and container
 * secrets) signs every email, the signature verifies with an independent verifier against a key
 * published in DNS (a DNS server on loopback), and covers the headers RFC 8058 requires. A key
 * Baton cannot sign with stops start-up with a message naming DKIM_PRIVATE_KEY.
 */

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PEM = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
const PUBLIC_BASE64 = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
/** The key as pasted into a .env file or a container secret: one line, line breaks as `\n`. */
const ESCAPED = PEM.trim().split('\n').join('\\n');

let dns: DnsServer;
let smtp: SMTPServer;
let smtpUrl: string;
const received: string[] = [];

beforeAll(async () => {
  // The public half, split into 255-byte strings as DNS providers publish long keys.
  dns = await startDnsServer({ 's2026._domainkey.acme.example': { TXT: [[`v=DKIM1; k=rsa; p=${PUBLIC_BASE64.slice(0, 200)}`, PUBLIC_BASE64.slice(200)]] } });
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push(Buffer.concat(chunks).toString('utf8'));
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpUrl = `smtp://127.0.0.1:${(smtp.server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await dns.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
});
afterEach(endStartedProcesses);

const BASE = { DKIM_DOMAIN: 'acme.example', DKIM_SELECTOR: 's2026', BATON_MAIL_FROM: 'Acme <hello@acme.example>' };

/** mailauth looks keys up through this resolver: our DNS server, over real DNS packets. */
function loopbackResolver() {
  const resolver = new Resolver();
  resolver.setServers([dns.address]);
  return (name: string, type: string) => resolver.resolve(name, type as 'TXT');
}

async function sendSigned(env: Record<string, string>, subject: string): Promise<string> {
  const config = loadConfig({ ...BASE, ...env, SMTP_URL: smtpUrl });
  const transport = createMailTransport(smtpUrl, config.dkim, 1);
  try {
    const before = received.length;
    const result = await transport.send(
      buildMailOptions({
        rendered: {
          template: 't',
          templateVersion: 'v',
          category: 'marketing',
          from: null,
          subject,
          preheader: '',
          html: '<p>Hello Zoë</p>',
          text: 'Hello Zoë',
        },
        to: 'lead@example.com',
        from: config.mailFrom,
        messageId: '<e1.welcome@acme.example>',
        unsubscribeUrl: 'https://baton.acme.example/u/token',
      }),
    );
    expect(result.outcome.kind).toBe('sent');
    return received[before] ?? '';
  } finally {
    transport.close();
  }
}

describe('DKIM signing', () => {
  it.each([
    ['a PEM with line breaks', PEM],
    ['a one-line PEM with \\n escapes (.env, container secrets)', ESCAPED],
    ['the one-line form in the quotes an env file kept', `"${ESCAPED}"`],
    ['a PKCS#8 PEM with \\r\\n escapes', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString().trim().split('\n').join('\\r\\n')],
  ])('signs with %s, and an independent verifier passes the signature over From, Subject and List-Unsubscribe(-Post)', async (_form, key) => {
    const raw = await sendSigned({ DKIM_PRIVATE_KEY: key }, 'Welcome, Zoë: your playbook');
    const verified = await dkimVerify(raw, { resolver: loopbackResolver() });
    expect(verified.results).toHaveLength(1);
    const [result] = verified.results;
    expect({ status: result?.status.result, domain: result?.signingDomain, selector: result?.selector }).toEqual({
      status: 'pass',
      domain: 'acme.example',
      selector: 's2026',
    });
    // h= of the DKIM-Signature header (unfolded): the headers the verified signature covers.
    const signature = /^DKIM-Signature:([\s\S]*?)\r?\n(?=\S)/im.exec(raw)?.[1]?.replace(/\s+/g, '') ?? '';
    const signedHeaders = (/(?:^|;)h=([^;]+)/.exec(signature)?.[1] ?? '').toLowerCase().split(':');
    expect(signedHeaders).toEqual(expect.arrayContaining(['from', 'subject', 'list-unsubscribe', 'list-unsubscribe-post', 'message-id']));
  });

  it('fails the verifier once a signed header is changed in transit (the check can fail)', async () => {
    const raw = await sendSigned({ DKIM_PRIVATE_KEY: ESCAPED }, 'Original subject');
    const verified = await dkimVerify(raw.replace('Subject: Original subject', 'Subject: Changed subject'), { resolver: loopbackResolver() });
    expect(verified.results[0]?.status.result).toBe('fail');
  });
});

function problemsOf(environment: Record<string, string>): string[] {
  try {
    loadConfig(environment);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

describe('sender identity at start', () => {
  const ed25519 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const small = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const encrypted = privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }).toString();
  const truncated = PEM.slice(0, 400) + PEM.slice(PEM.indexOf('-----END'));

  it.each([
    [
      'garbage',
      'not-a-key',
      'DKIM_PRIVATE_KEY is not a PEM private key: paste the whole PEM file, from -----BEGIN PRIVATE KEY----- (or -----BEGIN RSA PRIVATE KEY-----) to its END line; on one line (.env files, container secrets) write each line break as \\n',
    ],
    [
      'the public key',
      publicKey.export({ type: 'spki', format: 'pem' }).toString(),
      'DKIM_PRIVATE_KEY is a public key: DKIM_PRIVATE_KEY takes the private key (the public one goes in the DNS record)',
    ],
    ['an encrypted key', encrypted, 'DKIM_PRIVATE_KEY is encrypted with a passphrase: decrypt it first (openssl pkey -in key.pem -out dkim.pem)'],
    [
      'an Ed25519 key',
      ed25519,
      'DKIM_PRIVATE_KEY is an ed25519 key: Baton signs DKIM with RSA (rsa-sha256); generate one with openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048',
    ],
    ['a 512-bit key', small, 'DKIM_PRIVATE_KEY is a 512-bit RSA key: receivers ignore DKIM keys under 1024 bits (RFC 8301); use 2048'],
  ])('refuses %s, naming DKIM_PRIVATE_KEY and what to do', (_name, key, problem) => {
    expect(problemsOf({ ...BASE, DKIM_PRIVATE_KEY: key })).toEqual([problem]);
  });

  it("refuses a truncated key with the reader's reason", () => {
    expect(problemsOf({ ...BASE, DKIM_PRIVATE_KEY: truncated })).toEqual([
      expect.stringMatching(/^DKIM_PRIVATE_KEY cannot be read as a private key \(.+\): paste the whole PEM file/),
    ]);
  });

  it('keeps the key it accepted as a PEM that signs (the escaped form unescaped)', () => {
    const config = loadConfig({ ...BASE, DKIM_PRIVATE_KEY: ESCAPED });
    expect(config.dkim?.privateKey).toMatch(/^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/);
  });

  const production = {
    NODE_ENV: 'production',
    BATON_API_KEY: 'k'.repeat(30),
    BATON_SECRET: 's'.repeat(40),
    BATON_POSTAL_ADDRESS: '2 Rue Neuve, Paris',
    SMTP_URL: 'smtp://mail.acme.example:587',
    BATON_PUBLIC_URL: 'https://baton.acme.example',
  };

  it('requires BATON_MAIL_FROM in production, and one address in it everywhere', () => {
    expect(problemsOf(production)).toEqual([
      'BATON_MAIL_FROM is required in production: the From address of your emails, at a domain whose SPF, DKIM and DMARC you control (npx baton doctor checks them)',
    ]);
    expect(problemsOf({ BATON_MAIL_FROM: 'Acme' })).toEqual(['BATON_MAIL_FROM must be one address, e.g. "Acme <hello@acme.example>" or hello@acme.example']);
    expect(problemsOf({ BATON_MAIL_FROM: 'a@acme.example, b@acme.example' })).toHaveLength(1);
  });

  it('refuses a From domain not aligned with the DKIM domain in production (relaxed: the organizational domain counts)', () => {
    const withKey = { ...production, DKIM_DOMAIN: 'acme.example', DKIM_SELECTOR: 's1', DKIM_PRIVATE_KEY: ESCAPED };
    expect(problemsOf({ ...withKey, BATON_MAIL_FROM: 'News <news@mail.acme.example>' })).toEqual([]);
    expect(problemsOf({ ...withKey, DKIM_DOMAIN: 'acme.co.uk', BATON_MAIL_FROM: 'hello@news.acme.co.uk' })).toEqual([]);
    expect(problemsOf({ ...withKey, DKIM_DOMAIN: 'other.co.uk', BATON_MAIL_FROM: 'hello@acme.co.uk' })).toEqual([
      'BATON_MAIL_FROM (acme.co.uk) is not aligned with DKIM_DOMAIN (other.co.uk): DMARC wants the From domain and the signing domain to share their organizational domain; sign as acme.co.uk or send from an address at other.co.uk',
    ]);
    // In development the same start goes on (startBaton logs a warning).
    expect(problemsOf({ ...BASE, DKIM_PRIVATE_KEY: ESCAPED, DKIM_DOMAIN: 'other.co.uk', BATON_MAIL_FROM: 'hello@acme.co.uk' })).toEqual([]);
  });

  it('stops `npm start` with a bad key before anything starts, naming DKIM_PRIVATE_KEY', async () => {
    const root = fileURLToPath(new URL('../../', import.meta.url));
    const failure = await runCommand(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...BASE,
        DKIM_PRIVATE_KEY: 'MIIEpAIBAAKCAQEA-not-really',
        BATON_DATA_DIR: '/nonexistent/baton-never-created',
      },
    }).then(
      () => null,
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(CommandFailed);
    const { code, stderr } = failure as CommandFailed;
    expect({ code, stderr: stderr.trim() }).toEqual({
      code: 1,
      stderr: expect.stringContaining('Invalid configuration:\n  - DKIM_PRIVATE_KEY is not a PEM private key'),
    });
  });
});
