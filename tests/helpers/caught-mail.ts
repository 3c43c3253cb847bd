import { simpleParser, type ParsedMail } from 'mailparser';
import type request from 'supertest';
import { until } from './until.js';

/** The embedded sink's mail to one address, oldest first, parsed; read through GET /api/dev/mail. */
export function caughtMail(api: ReturnType<typeof request>, auth: Record<string, string>) {
  const mailsTo = async (email: string): Promise<ParsedMail[]> => {
    const res = await api.get('/api/dev/mail').query({ to: email }).set(auth);
    const items: Array<{ raw: string }> = res.body.items;
    return Promise.all(items.reverse().map((item) => simpleParser(item.raw)));
  };
  const waitForMails = (email: string, count: number, timeoutMs?: number) =>
    until(
      () => mailsTo(email),
      (mails) => mails.length >= count,
      timeoutMs,
    );
  return { mailsTo, waitForMails };
}
