import nodemailer from 'nodemailer';

/*
 * The network checks of `baton doctor` that are not DNS: TLS to SMTP_URL, and the public URL.
 * `ca` adds trusted certificates (tests bring their own authority; production uses the system's).
 */

export type ProbeResult = { status: 'pass' | 'warn' | 'fail'; detail: string };

const TIMEOUT_MS = 10_000;

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}

/** Connects to SMTP_URL, asks for TLS (implicit for smtps:, STARTTLS for smtp:), checks the certificate and any credentials. */
export async function probeSmtpTls(smtpUrl: string, ca?: string): Promise<ProbeResult> {
  const url = new URL(smtpUrl);
  const secure = url.protocol === 'smtps:';
  const port = Number(url.port || (secure ? 465 : 587));
  const transporter = nodemailer.createTransport({
    host: url.hostname,
    port,
    secure,
    requireTLS: !secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    tls: { rejectUnauthorized: true, ...(ca ? { ca } : {}) },
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  });
  const where = `${url.hostname}:${port}`;
  try {
    await transporter.verify();
    return { status: 'pass', detail: `${where}: ${secure ? 'TLS' : 'STARTTLS'} with a trusted certificate${url.username ? ', credentials accepted' : ''}` };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    // A relay on this machine (a local Postfix) may speak plain SMTP; it must use TLS onward.
    if (isLoopback(url.hostname) && /STARTTLS/i.test(message))
      return { status: 'warn', detail: `${where}: a local relay without STARTTLS; make sure it uses TLS to the Internet` };
    return { status: 'fail', detail: `${where}: ${message}` };
  } finally {
    transporter.close();
  }
}

/** The public URL must answer Baton's /health (leads click and unsubscribe there); https in production. */
export async function probePublicUrl(publicUrl: string, production: boolean): Promise<ProbeResult> {
  const health = `${publicUrl}/health`;
  try {
    const response = await fetch(health, { signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'manual' });
    if (response.status !== 200) return { status: 'fail', detail: `${health} answered ${response.status}; links in emails lead there` };
    if (!publicUrl.startsWith('https:'))
      return { status: production ? 'fail' : 'warn', detail: `${health} answers, over plain http: one-click unsubscribe (RFC 8058) needs https` };
    return { status: 'pass', detail: `${health} answers 200 over https` };
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    return { status: 'fail', detail: `${health} cannot be reached (${cause}); links in emails lead there` };
  }
}
