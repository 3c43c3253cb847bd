import { randomUUID } from 'node:crypto';
import nodemailer from 'nodemailer';
import { startInboundSmtp, type InboundSmtp } from '../../src/feedback/inbound-smtp.js';
import { feedbackFixture } from '../helpers/feedback-fixtures.js';
import { capturingLogger, enrollLead, feedbackAddresses, feedbackInbox, isSuppressed, sentSend } from '../helpers/feedback-setup.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/*
 * The inbound listener over real SMTP: what it records from DSNs, plain bounces, ARF complaints
 * and mailto: unsubscribes, that a repeated report records once, and that bad input (foreign or
 * forged recipients, unknown sends, junk, oversized mail, a thousand malformed messages) is
 * refused or ignored with a log line: no crash, no suppression.
 */

let t: TestApp;
let inbound: InboundSmtp;
const { logger, lines } = capturingLogger();
const addresses = feedbackAddresses();
const MAX_BYTES = 1_000_000;

beforeAll(async () => {
  t = await createTestApp();
  inbound = await startInboundSmtp({ inbox: feedbackInbox(t, logger, 3), host: '127.0.0.1', port: 0, maxBytes: MAX_BYTES, logger });
});
afterAll(async () => {
  await inbound.close();
  await t.close();
});

function mailer() {
  return nodemailer.createTransport({ host: '127.0.0.1', port: inbound.port, secure: false, ignoreTLS: true, pool: true, maxMessages: Infinity });
}
/** Delivers a raw message as an MTA would; resolves with the server's reply or rejects with its error. */
async function deliver(raw: string | Buffer, to: string, from = ''): Promise<string> {
  const transport = mailer();
  try {
    const info = await transport.sendMail({ envelope: { from, to: [to] }, raw });
    return String(info.response);
  } finally {
    transport.close();
  }
}
const eventsOf = (leadId: string, type: string) =>
  t.database.db.selectFrom('events').selectAll().where('lead_id', '=', leadId).where('type', '=', type).execute();

async function leadWithSend(email: string, stepId = 'welcome') {
  const ids = await enrollLead(t, email);
  const sendId = await sentSend(t, ids, stepId);
  return { ...ids, sendId, messageId: `<${ids.enrollmentId}.${stepId}@baton.test>` };
}

describe('bounces at the VERP address', () => {
  it('records a Postfix DSN once: bounce event with status, suppression and opt-out; a repeat changes nothing', async () => {
    const lead = await leadWithSend('nobody@gone.example');
    const verp = addresses.bounce(lead.sendId);
    const raw = feedbackFixture('postfix-dsn.eml', { verp, messageId: lead.messageId });
    expect(await deliver(raw, verp)).toMatch(/^250/);
    expect(await deliver(raw, verp)).toMatch(/^250/);
    const bounced = await eventsOf(lead.leadId, 'email_bounced');
    expect(bounced).toEqual([
      expect.objectContaining({
        properties: expect.objectContaining({
          bounce: 'hard',
          status: '5.1.1',
          source: 'dsn',
          sendId: lead.sendId,
          sequenceId: 'b2b-nurture',
          stepId: 'welcome',
        }),
      }),
    ]);
    expect(await eventsOf(lead.leadId, 'unsubscribed')).toEqual([expect.objectContaining({ properties: { source: 'hard_bounce', sendId: lead.sendId } })]);
    expect(await isSuppressed(t, 'nobody@gone.example')).toBe(true);
    const stored = await t.database.db
      .selectFrom('suppressions')
      .select('reason')
      .where('email_hash', '=', t.services.suppression.hash('nobody@gone.example'))
      .executeTakeFirst();
    expect(stored?.reason).toBe('hard_bounce');
  });

  it.each(['exim-bounce.eml', 'qmail-bounce.eml'])('records the plain-text bounce in %s as hard', async (file) => {
    const lead = await leadWithSend(`ghost.${file.split('-')[0] ?? ''}@example.org`);
    const verp = addresses.bounce(lead.sendId);
    await deliver(feedbackFixture(file, { verp }), verp);
    expect(await eventsOf(lead.leadId, 'email_bounced')).toEqual([
      expect.objectContaining({ properties: expect.objectContaining({ bounce: 'hard', status: '5.1.1', source: 'plain_bounce' }) }),
    ]);
    expect(await isSuppressed(t, `ghost.${file.split('-')[0] ?? ''}@example.org`)).toBe(true);
  });

  it('records delay warnings as soft bounces, and suppresses after three consecutive soft-bounced sends', async () => {
    const ids = await enrollLead(t, 'slow@example.org');
    for (const [position, stepId] of ['welcome', 'value-1', 'value-2'].entries()) {
      const sendId = await sentSend(t, ids, stepId);
      const verp = addresses.bounce(sendId);
      await deliver(feedbackFixture('postfix-delayed.eml', { verp }), verp);
      expect(await isSuppressed(t, 'slow@example.org')).toBe(position === 2);
    }
    expect((await eventsOf(ids.leadId, 'email_bounced')).map((event) => event.properties)).toEqual(
      Array.from({ length: 3 }, () => expect.objectContaining({ bounce: 'soft', status: '4.4.1' })),
    );
  });

  it('lets a delivered send break a run of soft bounces', async () => {
    const ids = await enrollLead(t, 'recovers@example.org');
    for (const stepId of ['welcome', 'value-1', 'value-2']) {
      const sendId = await sentSend(t, ids, stepId);
      if (stepId === 'value-1') continue;
      const verp = addresses.bounce(sendId);
      await deliver(feedbackFixture('postfix-delayed.eml', { verp }), verp);
    }
    expect(await isSuppressed(t, 'recovers@example.org')).toBe(false);
  });
});

describe('complaints (ARF) at a feedback-loop mailbox', () => {
  it('finds the send through Original-Mail-From and records a complaint: event, suppression, opt-out', async () => {
    const lead = await leadWithSend('grumpy@example.com');
    await deliver(feedbackFixture('arf-complaint.eml', { verp: addresses.bounce(lead.sendId) }), 'fbl@bounces.acme.example', 'abusedesk@example.com');
    expect(await eventsOf(lead.leadId, 'email_complained')).toEqual([
      expect.objectContaining({ properties: expect.objectContaining({ feedbackType: 'abuse', source: 'arf', sendId: lead.sendId }) }),
    ]);
    expect(await isSuppressed(t, 'grumpy@example.com')).toBe(true);
    expect(await eventsOf(lead.leadId, 'unsubscribed')).toEqual([expect.objectContaining({ properties: { source: 'complaint', sendId: lead.sendId } })]);
  });

  it('falls back to the quoted Message-ID when the report hides the envelope', async () => {
    const lead = await leadWithSend('redacted@example.com');
    const raw = feedbackFixture('arf-complaint.eml', { messageId: lead.messageId }).replace(
      /Original-Mail-From: <[^>]*>/,
      'Original-Mail-From: <redacted@example.net>',
    );
    await deliver(raw, 'abuse@bounces.acme.example', 'abusedesk@example.com');
    expect(await eventsOf(lead.leadId, 'email_complained')).toHaveLength(1);
  });
});

describe('mailto: List-Unsubscribe', () => {
  it('unsubscribes the lead of the send, without suppressing the address', async () => {
    const lead = await leadWithSend('leaving@example.com');
    await deliver('From: leaving@example.com\r\nSubject: unsubscribe\r\n\r\n', addresses.unsubscribe(lead.sendId), 'leaving@example.com');
    expect(await eventsOf(lead.leadId, 'unsubscribed')).toEqual([expect.objectContaining({ properties: { source: 'mailto', sendId: lead.sendId } })]);
    expect(await isSuppressed(t, 'leaving@example.com')).toBe(false);
  });

  it('ignores a bounce or auto-reply (null sender) to the unsubscribe address', async () => {
    const lead = await leadWithSend('staying@example.com');
    await deliver(feedbackFixture('out-of-office.eml'), addresses.unsubscribe(lead.sendId), '');
    expect(await eventsOf(lead.leadId, 'unsubscribed')).toHaveLength(0);
  });
});

describe('bad input', () => {
  it('refuses recipients outside the bounce domain and forged VERP addresses at RCPT TO', async () => {
    const lead = await leadWithSend('target@example.com');
    const genuine = addresses.bounce(lead.sendId);
    const forged = genuine.replace(/\.[A-Za-z0-9_-]{22}@/, `.${'A'.repeat(22)}@`);
    for (const to of ['postmaster@example.com', forged, `bounce+${lead.sendId}@bounces.acme.example`]) {
      await expect(deliver(feedbackFixture('postfix-dsn.eml', { verp: to }), to)).rejects.toMatchObject({ responseCode: 550 });
    }
    expect(await isSuppressed(t, 'target@example.com')).toBe(false);
    expect(lines.some((line) => line.msg === 'inbound mail refused: not an address of the bounce domain')).toBe(true);
  });

  it('ignores, with a log line, a DSN for a send that does not exist (correctly signed) and mail that is no report', async () => {
    const unknown = addresses.bounce(randomUUID());
    expect(await deliver(feedbackFixture('postfix-dsn.eml', { verp: unknown }), unknown)).toMatch(/^250/);
    const lead = await leadWithSend('vacation@example.com');
    expect(
      await deliver(feedbackFixture('out-of-office.eml', { verp: addresses.bounce(lead.sendId) }), addresses.bounce(lead.sendId), 'vacation@example.com'),
    ).toMatch(/^250/);
    expect(await isSuppressed(t, 'vacation@example.com')).toBe(false);
    const ignored = lines.filter((line) => line.msg === 'inbound mail ignored').map((line) => line.reason);
    expect(ignored).toEqual(expect.arrayContaining([expect.stringMatching(/no longer exists/), expect.stringMatching(/automatic reply/)]));
  });

  it('refuses 10 MB of junk with 552 and keeps serving', async () => {
    const junk = Buffer.alloc(10 * 1024 * 1024, 'x\r\n');
    await expect(deliver(junk, 'postmaster@bounces.acme.example')).rejects.toMatchObject({ responseCode: 552 });
    expect(lines.some((line) => line.msg === 'inbound mail refused: over the size limit')).toBe(true);
    const lead = await leadWithSend('after-junk@example.org');
    await deliver(feedbackFixture('postfix-dsn.eml', { verp: addresses.bounce(lead.sendId) }), addresses.bounce(lead.sendId));
    expect(await isSuppressed(t, 'after-junk@example.org')).toBe(true);
  });

  it("survives a thousand malformed messages at a real send's VERP address without suppressing it", async () => {
    const lead = await leadWithSend('robust@example.org');
    const verp = addresses.bounce(lead.sendId);
    const dsn = feedbackFixture('postfix-dsn.eml', { verp });
    const malformed = (i: number): string => {
      switch (i % 8) {
        case 0:
          return dsn.replace('Status: 5.1.1', `Status: ${i}.x`);
        case 1:
          return dsn.slice(0, 200 + (i % 700));
        case 2:
          return dsn.replace(/boundary="[^"]+"/, `boundary="${'b'.repeat(i % 300)}"`);
        case 3:
          return `Content-Type: multipart/report; boundary=x\r\n\r\n${'--x\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n'.repeat(60)}`;
        case 4:
          return `Subject: ${'=?UTF-8?B?' + Buffer.from('é'.repeat(i % 50)).toString('base64') + '?='}\r\nX-Long: ${'h'.repeat(5000)}\r\n\r\nbody`;
        case 5:
          return dsn.replace('Action: failed', 'Action: delivered').replace('Status: 5.1.1', 'Status: 2.0.0');
        case 6:
          return Buffer.from(Array.from({ length: 300 }, (_v, k) => (k * 31 + i) % 256))
            .toString('latin1')
            .replace(/\r?\n\.\r?\n/g, '');
        default:
          return dsn
            .replace('Content-Type: message/delivery-status', 'Content-Type: message/delivery-status\r\nContent-Transfer-Encoding: base64')
            .replace('Final-Recipient', '!!!not base64!!!');
      }
    };
    const transport = mailer();
    try {
      const replies = await Promise.all(
        Array.from({ length: 1000 }, (_v, i) =>
          transport.sendMail({ envelope: { from: '', to: [verp] }, raw: malformed(i) }).then(
            (info) => String(info.response),
            (error: { response?: string }) => String(error.response),
          ),
        ),
      );
      expect(replies.filter((reply) => !reply.startsWith('250'))).toEqual([]);
    } finally {
      transport.close();
    }
    expect(await isSuppressed(t, 'robust@example.org')).toBe(false);
    expect(await eventsOf(lead.leadId, 'email_bounced')).toHaveLength(0);
    expect(lines.filter((line) => line.msg === 'inbound mail ignored').length).toBeGreaterThanOrEqual(1000);
    // Still serving.
    await deliver(dsn, verp);
    expect(await isSuppressed(t, 'robust@example.org')).toBe(true);
  }, 120_000);
});
