import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A real SMTP server that refuses every recipient with 550 5.1.1 (user unknown). */
export async function startBouncingSmtpServer(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      callback(Object.assign(new Error(`5.1.1 <${address.address}>: user unknown`), { responseCode: 550 }));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export interface SlowSmtpServer {
  url: string;
  /** Each recipient as its RCPT TO arrived (the earliest the server learns who a message is for), in order. */
  recipients: Array<{ to: string; at: number }>;
  close(): Promise<void>;
}

/** A real SMTP server that accepts everything but answers each message `delayMs` after its final dot, as a slow relay does. */
export async function startSlowSmtpServer(delayMs: number): Promise<SlowSmtpServer> {
  const recipients: SlowSmtpServer['recipients'] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      recipients.push({ to: address.address.toLowerCase(), at: Date.now() });
      callback();
    },
    onData(stream, _session, callback) {
      stream.resume();
      stream.on('end', () => setTimeout(() => callback(), delayMs));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`,
    recipients,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
