import { Resolver } from 'node:dns/promises';
import type { Config } from '../platform/config.js';
import { doctorExitCode, formatDoctorReport, runDoctor, type CheckStatus } from './doctor.js';
import { probePublicUrl, probeSmtpTls } from './doctor-probes.js';

/** `baton doctor [--dns-server HOST[:PORT],…] [--json]`: the report and the exit code. */
export async function doctorCommand(
  config: Config,
  options: { dnsServers?: string; bounceDomain: string | null; json: boolean; paint?: (status: CheckStatus, text: string) => string },
): Promise<{ output: string; code: number }> {
  const resolver = new Resolver({ timeout: 5000, tries: 2 });
  // Another resolver than the system's: a public one, to see what receivers see, or a test server.
  if (options.dnsServers) resolver.setServers(options.dnsServers.split(',').map((server) => server.trim()));
  const checks = await runDoctor(
    {
      production: config.nodeEnv === 'production',
      mailFrom: config.mailFrom,
      dkim: config.dkim,
      bounceDomain: options.bounceDomain,
      smtpUrl: config.smtpUrl,
      publicUrl: config.publicUrl,
    },
    { dns: resolver, probeSmtpTls: (url) => probeSmtpTls(url), probePublicUrl },
  );
  return { output: options.json ? JSON.stringify({ checks }, null, 2) : formatDoctorReport(checks, options.paint), code: doctorExitCode(checks) };
}
