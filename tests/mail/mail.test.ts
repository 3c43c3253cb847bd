import net, { type AddressInfo } from 'node:net';
import { simpleParser } from 'mailparser';
import { startBouncingSmtpServer } from '../helpers/smtp-servers.js';
import { buildMailOptions } from '../../src/mail/mail-message.js';
import { startMailSink, type MailSink } from '../../src/mail/mail-sink.js';
import { createMailTransport, type MailTransport } from '../../src/mail/mail-transport.js';
import { createLogger } from '../../src/platform/logger.js';
import type { RenderedEmail } from '../../src/templates/template-store.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { createApp } from '../../src/app.js';
import request from 'supertest';

let t: TestApp;
let sink: MailSink;
let transport: MailTransport;

beforeAll(async () => {
  t = await createTestApp();
  sink = await startMailSink(t.database.db, createLogger('silent'));
  transport = createMailTransport(sink.url, null);
});
afterAll(async () => {
  transport.close();
  await sink.close();
  await t.close();
});

const rendered: RenderedEmail = {
  template: 'welcome',
  templateVersion: 'v1',
  category: 'marketing',
  from: null,
  subject: 'Welcome, Ada — café ☕',
  preheader: 'p',
  html: '<p>Hello <a href="https://example.com/x">there</a></p>',
  text: 'Hello there [https://example.com/x]',
};

describe('sending through the embedded SMTP sink', () => {
  it('delivers over real SMTP with the one-click unsubscribe headers, an HTML and a text part', async () => {
    const result = await transport.send(
      buildMailOptions({
        rendered,
        to: 'ada@example.com',
        from: 'Acme <hello@acme.example>',
        messageId: '<send-1@baton.test>',
        unsubscribeUrl: 'https://baton.example.com/u/token-1',
      }),
    );
    expect(result.outcome).toEqual({ kind: 'sent' });
    expect(result.response).toMatch(/^250 /);

    const rows = await t.database.db.selectFrom('dev_mail').selectAll().execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]?.envelope_to).toEqual(['ada@example.com']);
    const mail = await simpleParser(rows[0]?.raw ?? '');
    expect(mail.subject).toBe('Welcome, Ada — café ☕');
    expect(mail.messageId).toBe('<send-1@baton.test>');
    expect(mail.html).toContain('Hello <a href="https://example.com/x">there</a>');
    expect(mail.text).toContain('Hello there');
    const header = (name: string) => mail.headerLines.find((line) => line.key === name)?.line;
    expect(header('list-unsubscribe')).toBe('List-Unsubscribe: <https://baton.example.com/u/token-1>');
    expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe-Post: List-Unsubscribe=One-Click');
  });

  it('lists caught messages at GET /api/dev/mail, raw source included', async () => {
    const app = createApp({
      apiKey: 'dev-mail-test-key-0123456789',
      companyName: 'Acme',
      logger: createLogger('silent'),
      services: t.services,
      pingDatabase: t.database.ping,
      devMailDb: t.database.db,
    });
    const res = await request(app).get('/api/dev/mail').query({ to: 'ADA@example.com' }).set({ Authorization: 'Bearer dev-mail-test-key-0123456789' });
    expect(res.status).toBe(200);
    expect(res.body.items).toHaveLength(1);
    expect(res.body.items[0]).toMatchObject({
      subject: 'Welcome, Ada — café ☕',
      messageId: '<send-1@baton.test>',
      listUnsubscribe: '<https://baton.example.com/u/token-1>',
      listUnsubscribePost: 'List-Unsubscribe=One-Click',
      raw: expect.stringContaining('Message-ID: <send-1@baton.test>'),
    });
    const one = await request(app).get(`/api/dev/mail/${res.body.items[0].id}`).set({ Authorization: 'Bearer dev-mail-test-key-0123456789' });
    expect(one.body.html).toContain('Hello');
    const missing = await request(app).get('/api/dev/mail/999999').set({ Authorization: 'Bearer dev-mail-test-key-0123456789' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('mail_not_found');
  });

  it('is not served when mail goes to a real SMTP server', async () => {
    const res = await t.api.get('/api/dev/mail').set(t.auth);
    expect(res.status).toBe(404);
  });

  it('classifies a server that hangs up after the final dot as unknown, never as retry', async () => {
    const server = net.createServer((socket) => {
      socket.write('220 flaky ESMTP\r\n');
      let inData = false;
      let buffer = '';
      socket.on('data', (chunk) => {
        buffer += String(chunk);
        if (inData) {
          if (buffer.includes('\r\n.\r\n')) socket.destroy();
          return;
        }
        let newline: number;
        while ((newline = buffer.indexOf('\r\n')) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 2);
          if (/^EHLO/i.test(line)) socket.write('250 flaky\r\n');
          else if (/^DATA/i.test(line)) {
            inData = true;
            socket.write('354 go ahead\r\n');
          } else socket.write('250 ok\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const flaky = createMailTransport(`smtp://127.0.0.1:${(server.address() as AddressInfo).port}`, null);
    const result = await flaky.send(
      buildMailOptions({ rendered, to: 'x@example.com', from: 'a@b.co', messageId: '<m@b>', unsubscribeUrl: 'https://u.example/1' }),
    );
    expect(result.outcome.kind).toBe('unknown');
    flaky.close();
    await new Promise((resolve) => server.close(resolve));
  });

  it('classifies a real 550 5.1.1 at RCPT TO as a hard bounce', async () => {
    const strict = await startBouncingSmtpServer();
    const bouncing = createMailTransport(strict.url, null);
    const result = await bouncing.send(
      buildMailOptions({ rendered, to: 'nobody@example.com', from: 'a@b.co', messageId: '<m2@b>', unsubscribeUrl: 'https://u.example/1' }),
    );
    expect(result.outcome.kind).toBe('hard_bounce');
    bouncing.close();
    await strict.close();
  });

  it('refuses to build a marketing email without an unsubscribe URL', () => {
    expect(() => buildMailOptions({ rendered, to: 'x@example.com', from: 'a@b.co', messageId: '<m3@b>', unsubscribeUrl: null })).toThrow(
      'has no unsubscribe URL',
    );
  });

  it('classifies a refused connection as a retry, not a bounce', async () => {
    const closed = createMailTransport('smtp://127.0.0.1:1', null);
    const result = await closed.send(
      buildMailOptions({ rendered, to: 'x@example.com', from: 'a@b.co', messageId: '<m@b>', unsubscribeUrl: 'https://u.example/1' }),
    );
    expect(result.outcome.kind).toBe('retry');
    closed.close();
  });
});
