import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerDataStream } from 'smtp-server';
import type { Logger } from '../platform/logger.js';
import type { FeedbackInbox } from './feedback-inbox.js';

/*
 * Baton's inbound SMTP listener (BATON_INBOUND_SMTP_PORT): bounces, complaints and mailto:
 * unsubscribes, for the bounce domain only. A recipient Baton did not sign is refused at RCPT
 * (550 5.1.1), a message over the size limit at DATA (552 5.3.4); a message that cannot be
 * recorded because the database is away gets 451, so the sending MTA keeps it and tries again.
 * Everything else is answered 250, including junk, which is logged and dropped: a 5xx there
 * would only make the MTA send a bounce of the bounce.
 */

export interface InboundSmtpOptions {
  inbox: FeedbackInbox;
  host: string;
  port: number;
  maxBytes: number;
  logger?: Logger;
  now?: () => Date;
}

export interface InboundSmtp {
  port: number;
  close(): Promise<void>;
}

const smtpError = (code: number, text: string) => Object.assign(new Error(text), { responseCode: code });

export async function startInboundSmtp(options: InboundSmtpOptions): Promise<InboundSmtp> {
  const { inbox, logger, maxBytes } = options;
  const now = options.now ?? (() => new Date());
  const server = new SMTPServer({
    name: 'baton-inbound',
    banner: 'Baton feedback listener',
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    size: maxBytes,
    logger: false,
    maxClients: 50,
    // The client's name is not used: no reverse DNS lookup for each connection.
    disableReverseLookup: true,
    socketTimeout: 60_000,
    // On shutdown, a relay's idle cached connection must not hold Baton up for smtp-server's default 30 s.
    closeTimeout: 2000,
    onRcptTo(address, _session, callback) {
      if (inbox.accepts(address.address)) return callback();
      logger?.warn({ recipient: address.address.slice(0, 200) }, 'inbound mail refused: not an address of the bounce domain');
      return callback(smtpError(550, '5.1.1 No such mailbox here'));
    },
    onData(stream: SMTPServerDataStream, session, callback) {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size <= maxBytes) chunks.push(chunk);
      });
      stream.on('error', (error: Error) => callback(error));
      stream.on('end', () => {
        if (stream.sizeExceeded || size > maxBytes) {
          logger?.warn({ bytes: size, maxBytes }, 'inbound mail refused: over the size limit');
          return callback(smtpError(552, '5.3.4 Message too big'));
        }
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address || null : null;
        const recipients = session.envelope.rcptTo.map((rcpt) => rcpt.address);
        inbox.receive({ raw: Buffer.concat(chunks).toString('utf8'), recipients, mailFrom }, now()).then(
          () => callback(),
          (error: unknown) => {
            logger?.error({ err: error }, 'inbound mail could not be recorded; the sender will retry');
            callback(smtpError(451, '4.3.0 Try again later'));
          },
        );
      });
    },
  });
  server.on('error', (error) => logger?.warn({ err: error }, 'inbound SMTP connection error'));
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  logger?.info({ host: options.host, port }, 'inbound SMTP listener ready');
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
