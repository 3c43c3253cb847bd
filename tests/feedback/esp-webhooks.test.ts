import { createHmac, generateKeyPairSync, sign } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { createEspWebhooks } from '../../src/feedback/esp/esp-webhooks.service.js';
import { createLogger } from '../../src/platform/logger.js';
import { enrollLead, isSuppressed, sentSend } from '../helpers/feedback-setup.js';
import { createTestApp, TEST_API_KEY, type TestApp } from '../helpers/test-app.js';

/*
 * ESP webhooks with the providers' documented sample payloads (addresses and ids changed to a
 * send of this test), signed the way each provider signs: SNS with an RSA certificate made here
 * by openssl, SendGrid with an ECDSA P-256 key, Mailgun with an HMAC key, Postmark with basic
 * auth. Forged, unsigned, stale and replayed calls get 401 and record nothing.
 */

const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';
const CERT_URL = 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem';
const MAILGUN_KEY = 'key-7e55d003b3ba2d8ba5c6e6b2a4f0d1c3';
const POSTMARK_AUTH = 'postmark:Sup3r-secret-hook';

let t: TestApp;
let api: ReturnType<typeof request>;
let dir: string;
let snsKey: string;
const sendgrid = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

beforeAll(async () => {
  t = await createTestApp();
  // A self-signed certificate for an SNS host, made by openssl, as AWS's would be fetched.
  dir = mkdtempSync(path.join(os.tmpdir(), 'baton-sns-'));
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      path.join(dir, 'key.pem'),
      '-out',
      path.join(dir, 'cert.pem'),
      '-days',
      '2',
      '-subj',
      '/CN=sns.amazonaws.com',
    ],
    { stdio: 'ignore' },
  );
  snsKey = readFileSync(path.join(dir, 'key.pem'), 'utf8');
  const espWebhooks = await createEspWebhooks({
    db: t.database.db,
    suppression: t.services.suppression,
    softBounceLimit: 3,
    logger: createLogger('silent'),
    config: {
      ses: { topicArns: [TOPIC], certificateFile: path.join(dir, 'cert.pem') },
      postmarkCredentials: POSTMARK_AUTH,
      sendgridPublicKey: sendgrid.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      mailgunSigningKey: MAILGUN_KEY,
    },
  });
  api = request(
    createApp({ apiKey: TEST_API_KEY, companyName: 'Acme', logger: createLogger('silent'), services: t.services, pingDatabase: t.database.ping, espWebhooks }),
  );
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await t.close();
});

async function send(email: string) {
  const ids = await enrollLead(t, email);
  const sendId = await sentSend(t, ids);
  return { ...ids, sendId, messageId: `<${ids.enrollmentId}.welcome@baton.test>` };
}
const feedbackRows = (leadId: string) =>
  t.database.db
    .selectFrom('events')
    .select(['type', 'properties'])
    .where('lead_id', '=', leadId)
    .where('type', 'in', ['email_bounced', 'email_complained', 'unsubscribed'])
    .orderBy('occurred_at')
    .execute();

describe('Amazon SES through SNS', () => {
  /** SES's documented bounce notification, for this send. */
  const bounceNotification = (email: string, messageId: string) =>
    JSON.stringify({
      notificationType: 'Bounce',
      bounce: {
        feedbackId: '0100017f9d1e3c2a-4d2e2d3c-1f1e-4a55-9c2e-7b0bde0d1b39-000000',
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [{ emailAddress: email, action: 'failed', status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
        timestamp: '2026-12-08T01:50:00.000Z',
        remoteMtaIp: '127.0.2.0',
        reportingMTA: 'dsn; a8-70.smtp-out.amazonses.com',
      },
      mail: {
        timestamp: '2026-12-08T01:49:58.000Z',
        source: 'hello@acme.example',
        sourceArn: 'arn:aws:ses:us-east-1:123456789012:identity/acme.example',
        sourceIp: '127.0.3.0',
        sendingAccountId: '123456789012',
        messageId: '0100017f9d1e36a1-8a3f5a8c-1f8d-4e3c-9e0e-5b1f3d0c6a1f-000000',
        destination: [email],
        headersTruncated: false,
        headers: [
          { name: 'From', value: 'Acme <hello@acme.example>' },
          { name: 'To', value: email },
          { name: 'Message-ID', value: messageId },
        ],
        commonHeaders: { from: ['Acme <hello@acme.example>'], to: [email], messageId, subject: 'Welcome' },
      },
    });
  /** An SNS Notification signed as SNS signs (SignatureVersion 2: RSA-SHA256 over the canonical fields). */
  function snsMessage(message: string, overrides: Record<string, string> = {}, version: '1' | '2' = '2') {
    const fields = {
      Type: 'Notification',
      MessageId: `22b80b92-fdea-4c2c-8f9d-bdfb0c7bf32${Math.floor(Math.random() * 10)}-${Date.now()}`,
      TopicArn: TOPIC,
      Subject: 'Amazon SES Email Event Notification',
      Message: message,
      Timestamp: new Date().toISOString(),
      ...overrides,
    };
    // The canonical form of the SNS documentation, written out here rather than taken from the code under test.
    const canonical = `Message\n${fields.Message}\nMessageId\n${fields.MessageId}\nSubject\n${fields.Subject}\nTimestamp\n${fields.Timestamp}\nTopicArn\n${fields.TopicArn}\nType\n${fields.Type}\n`;
    const signature = sign(version === '1' ? 'RSA-SHA1' : 'RSA-SHA256', Buffer.from(canonical), snsKey).toString('base64');
    return {
      ...fields,
      SignatureVersion: version,
      Signature: signature,
      SigningCertURL: CERT_URL,
      UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x',
    };
  }
  const post = (body: unknown) =>
    api.post('/webhooks/esp/ses').set('Content-Type', 'text/plain; charset=UTF-8').set('x-amz-sns-message-type', 'Notification').send(JSON.stringify(body));

  it('records a signed bounce once, and refuses the same message again as a replay', async () => {
    const s = await send('ses-bounce@example.org');
    const message = snsMessage(bounceNotification('ses-bounce@example.org', s.messageId));
    const first = await post(message);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ recorded: 1, ignored: 0 });
    expect(await isSuppressed(t, 'ses-bounce@example.org')).toBe(true);
    const replay = await post(message);
    expect(replay.status).toBe(401);
    expect(replay.body.error).toMatchObject({ code: 'esp_webhook_unverified', message: expect.stringContaining('replayed') });
    expect((await feedbackRows(s.leadId)).filter((row) => row.type === 'email_bounced')).toEqual([
      { type: 'email_bounced', properties: expect.objectContaining({ bounce: 'hard', status: '5.1.1', source: 'ses' }) },
    ]);
  });

  it('accepts SignatureVersion 1 (SHA1) and records complaints', async () => {
    const s = await send('ses-complaint@example.org');
    const complaint = JSON.stringify({
      notificationType: 'Complaint',
      complaint: {
        userAgent: 'ExampleCorp Feedback Loop (V0.01)',
        complainedRecipients: [{ emailAddress: 'ses-complaint@example.org' }],
        complaintFeedbackType: 'abuse',
        arrivalDate: '2026-12-08T01:51:00.000Z',
        timestamp: '2026-12-08T01:51:01.000Z',
        feedbackId: '000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000',
      },
      mail: {
        timestamp: '2026-12-08T01:49:58.000Z',
        messageId: '000001378603177f-7a5433e7-8edb-42ae-af10-f0181f34d6ee-000000',
        source: 'hello@acme.example',
        destination: ['ses-complaint@example.org'],
        commonHeaders: { messageId: s.messageId },
      },
    });
    expect((await post(snsMessage(complaint, {}, '1'))).status).toBe(200);
    expect((await feedbackRows(s.leadId)).map((row) => row.type)).toEqual(['email_complained', 'unsubscribed']);
  });

  it.each([
    ['an altered message', (m: ReturnType<typeof snsMessage>) => ({ ...m, Message: m.Message.replace('Permanent', 'Transient') })],
    ['no signature', (m: ReturnType<typeof snsMessage>) => ({ ...m, Signature: undefined })],
    [
      'a certificate URL off amazonaws.com',
      (m: ReturnType<typeof snsMessage>) => ({ ...m, SigningCertURL: 'https://sns.us-east-1.amazonaws.com.evil.example/cert.pem' }),
    ],
    ['a certificate URL over http', (m: ReturnType<typeof snsMessage>) => ({ ...m, SigningCertURL: CERT_URL.replace('https:', 'http:') })],
  ])('refuses %s with 401 and records nothing', async (_name, tamper) => {
    const email = `ses-forged-${Math.random().toString(36).slice(2, 8)}@example.org`;
    const s = await send(email);
    const response = await post(tamper(snsMessage(bounceNotification(email, s.messageId))));
    expect(response.status).toBe(401);
    expect(await feedbackRows(s.leadId)).toEqual([]);
  });

  it('refuses another topic and a stale timestamp, both correctly signed', async () => {
    const s = await send('ses-stale@example.org');
    const notification = bounceNotification('ses-stale@example.org', s.messageId);
    expect((await post(snsMessage(notification, { TopicArn: 'arn:aws:sns:us-east-1:999999999999:someone-else' }))).status).toBe(401);
    expect((await post(snsMessage(notification, { Timestamp: new Date(Date.now() - 2 * 3_600_000).toISOString() }))).status).toBe(401);
    expect(await feedbackRows(s.leadId)).toEqual([]);
  });
});

describe('SendGrid signed event webhook', () => {
  const events = (email: string, messageId: string, eventId: string) =>
    JSON.stringify([
      {
        email,
        timestamp: 1513299569,
        'smtp-id': messageId,
        event: 'bounce',
        category: 'cat facts',
        sg_event_id: eventId,
        sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
        reason: '500 unknown recipient',
        status: '5.0.0',
        type: 'bounce',
      },
      {
        email,
        timestamp: 1513299569,
        'smtp-id': messageId,
        event: 'delivered',
        category: 'cat facts',
        sg_event_id: `${eventId}-d`,
        sg_message_id: '14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0',
        response: '250 OK',
      },
    ]);
  const signed = (body: string, timestamp = String(Math.floor(Date.now() / 1000))) => ({
    timestamp,
    signature: sign('sha256', Buffer.from(timestamp + body), { key: sendgrid.privateKey, dsaEncoding: 'der' }).toString('base64'),
  });
  const post = (body: string, headers: { timestamp: string; signature: string }) =>
    api
      .post('/webhooks/esp/sendgrid')
      .set('Content-Type', 'application/json')
      .set('X-Twilio-Email-Event-Webhook-Signature', headers.signature)
      .set('X-Twilio-Email-Event-Webhook-Timestamp', headers.timestamp)
      .send(body);

  it('records a verified bounce and refuses a replay of its events', async () => {
    const s = await send('sg-bounce@example.org');
    const body = events('sg-bounce@example.org', s.messageId, 'sg-1');
    const response = await post(body, signed(body));
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ recorded: 1, ignored: 0 });
    expect(await isSuppressed(t, 'sg-bounce@example.org')).toBe(true);
    // The same events, freshly signed (a captured body re-sent later): refused by sg_event_id.
    expect((await post(body, signed(body))).status).toBe(401);
  });

  it('refuses a forged body, a stale timestamp and a missing signature', async () => {
    const s = await send('sg-forged@example.org');
    const body = events('sg-forged@example.org', s.messageId, 'sg-2');
    expect((await post(body.replace('"bounce","category"', '"spamreport","category"'), signed(body))).status).toBe(401);
    expect((await post(body, signed(body, String(Math.floor(Date.now() / 1000) - 3600)))).status).toBe(401);
    expect((await api.post('/webhooks/esp/sendgrid').set('Content-Type', 'application/json').send(body)).status).toBe(401);
    expect(await feedbackRows(s.leadId)).toEqual([]);
  });

  it("ignores an event whose address is not the send's", async () => {
    const s = await send('sg-owner@example.org');
    const body = events('someone-else@example.org', s.messageId, 'sg-3');
    expect((await post(body, signed(body))).body).toEqual({ recorded: 0, ignored: 1 });
    expect(await isSuppressed(t, 'sg-owner@example.org')).toBe(false);
  });
});

describe('Mailgun', () => {
  function payload(email: string, messageId: string, token: string, timestamp = String(Math.floor(Date.now() / 1000)), event = 'failed') {
    return {
      signature: {
        timestamp,
        token,
        signature: createHmac('sha256', MAILGUN_KEY)
          .update(timestamp + token)
          .digest('hex'),
      },
      'event-data': {
        event,
        timestamp: Number(timestamp),
        id: 'DACSsAdVSeGpLid7TN03WA',
        severity: 'permanent',
        reason: 'bounce',
        'log-level': 'error',
        recipient: email,
        'recipient-domain': 'example.org',
        'delivery-status': {
          'attempt-no': 1,
          message: '550 5.1.1 The email account that you tried to reach does not exist.',
          code: 550,
          'enhanced-code': '5.1.1',
          description: '',
          'session-seconds': 0.1,
        },
        message: {
          headers: { to: email, 'message-id': messageId.replace(/^<|>$/g, ''), from: 'Acme <hello@acme.example>', subject: 'Welcome' },
          attachments: [],
          size: 111,
        },
        flags: { 'is-routed': false, 'is-authenticated': true, 'is-system-test': false, 'is-test-mode': false },
        envelope: { transport: 'smtp', sender: 'hello@acme.example', targets: email },
        'user-variables': {},
        tags: [],
      },
    };
  }

  it('records a verified permanent failure; the same token again is a replay', async () => {
    const s = await send('mg-bounce@example.org');
    const body = payload('mg-bounce@example.org', s.messageId, 'a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0');
    expect((await api.post('/webhooks/esp/mailgun').send(body)).status).toBe(200);
    expect((await feedbackRows(s.leadId)).find((row) => row.type === 'email_bounced')?.properties).toMatchObject({
      bounce: 'hard',
      status: '5.1.1',
      source: 'mailgun',
    });
    expect((await api.post('/webhooks/esp/mailgun').send(body)).status).toBe(401);
  });

  it('refuses a wrong signature and a stale timestamp', async () => {
    const s = await send('mg-forged@example.org');
    const body = payload('mg-forged@example.org', s.messageId, 'b9df1fec3ee9412eff0d3516346695f56bb02e2f0a08e4f4e1');
    expect(
      (
        await api
          .post('/webhooks/esp/mailgun')
          .send({ ...body, signature: { ...body.signature, signature: createHmac('sha256', 'wrong-key-0123456789').update('x').digest('hex') } })
      ).status,
    ).toBe(401);
    expect(
      (await api.post('/webhooks/esp/mailgun').send(payload('mg-forged@example.org', s.messageId, 'c0e02a', String(Math.floor(Date.now() / 1000) - 3600))))
        .status,
    ).toBe(401);
    expect(await feedbackRows(s.leadId)).toEqual([]);
  });
});

describe('Postmark', () => {
  const bounce = (email: string, sendId: string, id: number) => ({
    RecordType: 'Bounce',
    MessageStream: 'outbound',
    ID: id,
    Type: 'HardBounce',
    TypeCode: 1,
    Name: 'Hard bounce',
    Tag: 'Invitation',
    MessageID: '883953f4-6105-42a2-a16a-77a8eac79483',
    Metadata: { baton_send: sendId },
    ServerID: 23,
    Description: 'The server was unable to deliver your message (ex: unknown user, mailbox not found).',
    Details: 'smtp;550 5.1.1 The email account that you tried to reach does not exist.',
    Email: email,
    From: 'hello@acme.example',
    BouncedAt: '2026-12-08T01:53:54.9070259Z',
    DumpAvailable: true,
    Inactive: true,
    CanActivate: true,
    Subject: 'Welcome',
  });
  const auth = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

  it('records a bounce with the right credentials; the same bounce ID again is refused', async () => {
    const s = await send('pm-bounce@example.org');
    const body = bounce('pm-bounce@example.org', s.sendId, 4323372036854);
    expect((await api.post('/webhooks/esp/postmark').set('Authorization', auth(POSTMARK_AUTH)).send(body)).status).toBe(200);
    expect(await isSuppressed(t, 'pm-bounce@example.org')).toBe(true);
    expect((await api.post('/webhooks/esp/postmark').set('Authorization', auth(POSTMARK_AUTH)).send(body)).status).toBe(401);
  });

  it('records a spam complaint, and refuses calls without or with wrong credentials', async () => {
    const s = await send('pm-complaint@example.org');
    const complaint = { ...bounce('pm-complaint@example.org', s.sendId, 4323372036855), RecordType: 'SpamComplaint', Type: 'SpamComplaint', TypeCode: 512 };
    expect((await api.post('/webhooks/esp/postmark').send(complaint)).status).toBe(401);
    expect((await api.post('/webhooks/esp/postmark').set('Authorization', auth('postmark:guess-the-password')).send(complaint)).status).toBe(401);
    expect(await feedbackRows(s.leadId)).toEqual([]);
    expect((await api.post('/webhooks/esp/postmark').set('Authorization', auth(POSTMARK_AUTH)).send(complaint)).status).toBe(200);
    expect((await feedbackRows(s.leadId)).map((row) => row.type)).toEqual(['email_complained', 'unsubscribed']);
  });
});

it('answers 404 for a provider that is not configured', async () => {
  expect((await api.post('/webhooks/esp/sparkpost').send({})).status).toBe(404);
});
