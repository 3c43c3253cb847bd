import type { Kysely } from 'kysely';
import { SMTPServer } from 'smtp-server';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';

/*
 * The embedded SMTP sink: a real SMTP server on loopback that accepts every message and keeps it
 * in the dev_mail table, so `npm start` sends real mail with nothing installed, and tests read
 * what arrived over SMTP.
 */

const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

export interface MailSink {
  /** smtp:// URL for Nodemailer. */
  url: string;
  close(): Promise<void>;
}

export async function startMailSink(db: Kysely<Database>, logger: Logger, port = 0): Promise<MailSink> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    size: MAX_MESSAGE_BYTES,
    logger: false,
    banner: 'Baton development mail sink',
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      // Past the limit, stop keeping data: the message is refused anyway, memory must not grow.
      stream.on('data', (chunk: Buffer) => {
        if (!stream.sizeExceeded) chunks.push(chunk);
      });
      stream.on('end', () => {
        if (stream.sizeExceeded) {
          callback(Object.assign(new Error('5.3.4 Message too big'), { responseCode: 552 }));
          return;
        }
        const from = session.envelope.mailFrom ? session.envelope.mailFrom.address : null;
        const to = session.envelope.rcptTo.map((recipient) => recipient.address);
        db.insertInto('dev_mail')
          .values({ envelope_from: from, envelope_to: to, raw: Buffer.concat(chunks).toString('utf8') })
          .returning('id')
          .executeTakeFirstOrThrow()
          .then(
            (row) => callback(null, `2.0.0 stored as ${row.id}`),
            (error: unknown) => {
              logger.error({ err: error }, 'mail sink could not store a message');
              callback(Object.assign(new Error('4.3.0 Could not store the message'), { responseCode: 451 }));
            },
          );
      });
    },
  });
  server.on('error', (error) => logger.error({ err: error }, 'mail sink error'));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  if (address === null || typeof address === 'string') throw new Error('mail sink has no TCP address');
  return {
    url: `smtp://127.0.0.1:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
