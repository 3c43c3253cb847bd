import { readDkimPrivateKey } from './dkim-key.js';
import { judgeDkimKey, judgeDmarc, judgeSpf, type RecordVerdict } from './dns-records.js';
import type { ProbeResult } from './doctor-probes.js';
import { alignedDomains, organizationalDomain, senderAddress } from './sender-address.js';

/*
 * `baton doctor`: will mail from this Baton be trusted? The sender's and the bounce domain's SPF,
 * DKIM and DMARC records, MX for bounces, TLS to SMTP_URL, and the public URL. DNS comes through
 * an injected resolver (node:dns's Resolver, pointed anywhere), so tests run against a DNS server
 * on loopback.
 */

export type CheckStatus = 'pass' | 'warn' | 'fail';
export interface DoctorCheck {
  check: string;
  status: CheckStatus;
  detail: string;
}

export interface DoctorInput {
  production: boolean;
  mailFrom: string;
  dkim: { domainName: string; keySelector: string; privateKey: string } | null;
  /** BATON_BOUNCE_DOMAIN: the domain of the envelope sender (VERP bounce address); null when not set. */
  bounceDomain: string | null;
  smtpUrl: string | null;
  publicUrl: string;
}

/** The part of node:dns's promises Resolver the doctor uses. */
export interface DnsLookups {
  resolveTxt(name: string): Promise<string[][]>;
  resolveMx(name: string): Promise<Array<{ exchange: string; priority: number }>>;
}

export interface DoctorDeps {
  dns: DnsLookups;
  probeSmtpTls(smtpUrl: string): Promise<ProbeResult>;
  probePublicUrl(publicUrl: string, production: boolean): Promise<ProbeResult>;
}

type Lookup<T> = { ok: true; records: T[] } | { ok: false; detail: string };

/** No such name, or no record of the type: an empty answer. Anything else is the resolver's failure. */
async function lookup<T>(name: string, resolve: (name: string) => Promise<T[]>): Promise<Lookup<T>> {
  try {
    return { ok: true, records: await resolve(name) };
  } catch (error) {
    const code = (error as { code?: string }).code ?? '';
    if (code === 'ENOTFOUND' || code === 'ENODATA') return { ok: true, records: [] };
    return { ok: false, detail: `${name}: the DNS lookup failed (${code || (error as Error).message})` };
  }
}

export async function runDoctor(input: DoctorInput, deps: DoctorDeps): Promise<DoctorCheck[]> {
  const checks: DoctorCheck[] = [];
  const add = (check: string, verdict: RecordVerdict) => checks.push({ check, ...verdict });
  const txt = (name: string) => lookup(name, (n) => deps.dns.resolveTxt(n));
  const judged = async (check: string, name: string, judge: (records: string[][]) => RecordVerdict) => {
    const found = await txt(name);
    add(check, found.ok ? judge(found.records) : { status: 'warn', detail: found.detail });
  };

  const sender = senderAddress(input.mailFrom);
  if (!sender || !sender.domain.includes('.')) {
    add('From address', {
      status: 'fail',
      detail: `BATON_MAIL_FROM "${input.mailFrom}" is not an address at a real domain: set it to an address at a domain you control`,
    });
  } else {
    add('From address', { status: 'pass', detail: sender.address });
    await judged('From SPF', sender.domain, (records) => judgeSpf(sender.domain, records));
    await dmarc('From DMARC', sender.domain);
  }

  const key = input.dkim ? readDkimPrivateKey(input.dkim.privateKey) : null;
  if (!input.dkim || !key) {
    add('DKIM', {
      status: input.production ? 'fail' : 'warn',
      detail:
        'DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY are not set: Baton does not sign, so your relay must sign with a domain aligned with the From domain',
    });
  } else if (!key.ok) {
    add('DKIM', { status: 'fail', detail: `DKIM_PRIVATE_KEY ${key.problem}` });
  } else {
    const dkim = input.dkim;
    const name = `${dkim.keySelector}._domainkey.${dkim.domainName}`;
    await judged('DKIM key', name, (records) => judgeDkimKey(name, records, key.publicKeyBase64));
    if (sender) {
      add(
        'DKIM alignment',
        alignedDomains(sender.domain, dkim.domainName)
          ? { status: 'pass', detail: `d=${dkim.domainName} aligns with the From domain ${sender.domain} (relaxed: ${organizationalDomain(sender.domain)})` }
          : { status: 'fail', detail: `d=${dkim.domainName} does not align with the From domain ${sender.domain}: DMARC fails; sign as ${sender.domain}` },
      );
    }
  }

  await bounceChecks();

  if (!input.smtpUrl)
    add('SMTP TLS', {
      status: input.production ? 'fail' : 'warn',
      detail: 'SMTP_URL is not set: mail goes to the embedded development sink and never leaves the machine',
    });
  else add('SMTP TLS', await deps.probeSmtpTls(input.smtpUrl));
  add('Public URL', await deps.probePublicUrl(input.publicUrl, input.production));
  return checks;

  /** DMARC policy discovery: the domain's own record, else its organizational domain's (RFC 7489 §6.6.3). */
  async function dmarc(check: string, domain: string): Promise<void> {
    const own = await txt(`_dmarc.${domain}`);
    const organizational = organizationalDomain(domain);
    if (own.ok && own.records.length === 0 && organizational !== domain)
      await judged(check, `_dmarc.${organizational}`, (records) => judgeDmarc(`_dmarc.${organizational}`, records));
    else add(check, own.ok ? judgeDmarc(`_dmarc.${domain}`, own.records) : { status: 'warn', detail: own.detail });
  }

  async function bounceChecks(): Promise<void> {
    const bounce = input.bounceDomain;
    if (!bounce) {
      add('Bounce domain', {
        status: 'warn',
        detail: 'BATON_BOUNCE_DOMAIN is not set: the envelope sender is the From address, so bounces go to its mailbox and Baton does not see them',
      });
      return;
    }
    // SPF is checked against the envelope sender's domain: the bounce domain's record is the one that counts.
    await judged('Bounce SPF', bounce, (records) => judgeSpf(bounce, records));
    const mx = await lookup(bounce, (n) => deps.dns.resolveMx(n));
    if (!mx.ok) add('Bounce MX', { status: 'warn', detail: mx.detail });
    else if (mx.records.length === 0)
      add('Bounce MX', {
        status: 'fail',
        detail: `${bounce} has no MX record: bounces and complaints cannot reach Baton; point it at the host running Baton's inbound listener`,
      });
    else
      add('Bounce MX', {
        status: 'pass',
        detail: `${bounce}: ${[...mx.records]
          .sort((a, b) => a.priority - b.priority)
          .map((record) => `${record.priority} ${record.exchange}`)
          .join(', ')}`,
      });
    await dmarc('Bounce DMARC', bounce);
    if (sender) {
      add(
        'Bounce alignment',
        alignedDomains(bounce, sender.domain)
          ? { status: 'pass', detail: `${bounce} aligns with the From domain ${sender.domain}: SPF counts for DMARC` }
          : {
              status: 'warn',
              detail: `${bounce} does not align with the From domain ${sender.domain}: SPF cannot count for DMARC, which then rests on DKIM alone`,
            },
      );
    }
    if (input.dkim && key?.ok) {
      const signing = input.dkim.domainName;
      add(
        'Bounce DKIM',
        alignedDomains(bounce, signing)
          ? { status: 'pass', detail: `DKIM signs as ${signing}, in the bounce domain's organization (${organizationalDomain(bounce)})` }
          : { status: 'warn', detail: `DKIM signs as ${signing}, outside the bounce domain's organization (${organizationalDomain(bounce)})` },
      );
    }
  }
}

const LABEL: Record<CheckStatus, string> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL' };

/** The report for a terminal: one line per check, then the totals. */
export function formatDoctorReport(checks: DoctorCheck[], paint: (status: CheckStatus, text: string) => string = (_status, text) => text): string {
  const width = Math.max(...checks.map((check) => check.check.length));
  const lines = checks.map((check) => `  ${paint(check.status, LABEL[check.status])}  ${check.check.padEnd(width)}  ${check.detail}`);
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length;
  return `${lines.join('\n')}\n\n${count('fail')} failed, ${count('warn')} warned, ${count('pass')} passed`;
}

/** 1 when any check failed (warnings alone do not fail CI), else 0. */
export function doctorExitCode(checks: DoctorCheck[]): number {
  return checks.some((check) => check.status === 'fail') ? 1 : 0;
}
