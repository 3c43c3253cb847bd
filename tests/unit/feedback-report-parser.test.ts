import { randomUUID } from 'node:crypto';
import { createFeedbackAddresses, MAX_LOCAL_PART } from '../../src/feedback/bounce-address.js';
import { bounceKindOfStatus } from '../../src/feedback/delivery-feedback.js';
import { parseFeedbackMessage } from '../../src/feedback/report-parser.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import { feedbackFixture } from '../helpers/feedback-fixtures.js';

describe('parseFeedbackMessage', () => {
  it.each([
    [
      'Postfix DSN, 550 5.1.1 after acceptance',
      'postfix-dsn.eml',
      { kind: 'bounce', source: 'dsn', bounce: 'hard_bounce', status: '5.1.1', diagnostic: '550 5.1.1 <nobody@gone.example>: user unknown' },
    ],
    [
      'Postfix delay warning',
      'postfix-delayed.eml',
      {
        kind: 'bounce',
        source: 'dsn',
        bounce: 'soft_bounce',
        status: '4.4.1',
        diagnostic: 'X-Postfix; connect to mx.example.org[192.0.2.25]:25: Connection timed out',
      },
    ],
    [
      'Exim plain-text bounce',
      'exim-bounce.eml',
      {
        kind: 'bounce',
        source: 'plain_bounce',
        bounce: 'hard_bounce',
        status: '5.1.1',
        diagnostic: '550 5.1.1 <ghost@example.org>: Recipient address rejected: User unknown in local recipient table',
      },
    ],
    [
      'qmail plain-text bounce',
      'qmail-bounce.eml',
      { kind: 'bounce', source: 'plain_bounce', bounce: 'hard_bounce', status: '5.1.1', diagnostic: 'Sorry, no mailbox here by that name. (#5.1.1)' },
    ],
    ['RFC 5965 ARF abuse report', 'arf-complaint.eml', { kind: 'complaint', feedbackType: 'abuse', envelopeSender: 'bounce+unknown@bounces.acme.example' }],
  ])('%s', (_name, file, expected) => {
    expect(parseFeedbackMessage(feedbackFixture(file))).toMatchObject(expected);
  });

  it("keeps the returned message's headers, so a report can be matched to its send", () => {
    const parsed = parseFeedbackMessage(feedbackFixture('postfix-dsn.eml', { verp: 'bounce+x.y@bounces.acme.example', messageId: '<e.welcome@baton.test>' }));
    expect(parsed.kind === 'bounce' && parsed.original && Object.fromEntries(parsed.original)).toMatchObject({
      'return-path': '<bounce+x.y@bounces.acme.example>',
      'message-id': '<e.welcome@baton.test>',
    });
    const exim = parseFeedbackMessage(feedbackFixture('exim-bounce.eml', { messageId: '<e.step@baton.test>' }));
    expect(exim.kind === 'bounce' && exim.original?.get('message-id')).toBe('<e.step@baton.test>');
  });

  it.each([
    ['an out-of-office reply quoting numbers', feedbackFixture('out-of-office.eml'), /automatic reply/],
    [
      'a DSN that reports delivery',
      feedbackFixture('postfix-dsn.eml').replace('Action: failed', 'Action: delivered').replace('Status: 5.1.1', 'Status: 2.0.0'),
      /no failure/,
    ],
    ['an ARF not-spam report', feedbackFixture('arf-complaint.eml').replace('Feedback-Type: abuse', 'Feedback-Type: not-spam'), /not-spam/],
    ["a person's reply", 'From: Ada <ada@example.com>\r\nSubject: Re: Welcome\r\n\r\nThanks! 550 thanks.\r\n', /neither a report nor a bounce/],
    ['an empty message', '', /neither/],
    ['binary junk', Buffer.from(Array.from({ length: 4096 }, (_v, i) => (i * 7919) % 256)).toString('latin1'), /neither/],
    [
      'a report whose boundary never appears',
      'Content-Type: multipart/report; report-type=delivery-status; boundary="nope"\r\n\r\nStatus: 5.1.1\r\n',
      /neither/,
    ],
    ['a delivery-status part without recipients', 'Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n', /without a recipient/],
    ['a status that is not RFC 3463', feedbackFixture('postfix-dsn.eml').replace('Status: 5.1.1', 'Status: 9.9.9'), /no failure/],
  ])('ignores %s', (_name, raw, reason) => {
    const parsed = parseFeedbackMessage(raw);
    expect(parsed.kind).toBe('ignored');
    expect(parsed.kind === 'ignored' && parsed.reason).toMatch(reason);
  });

  it('reads a base64-encoded delivery-status part', () => {
    const fields =
      'Reporting-MTA: dns; mx.example.net\r\n\r\nFinal-Recipient: rfc822; a@example.org\r\nAction: failed\r\nStatus: 5.2.2\r\nDiagnostic-Code: smtp; 552 5.2.2 Mailbox full\r\n';
    const raw = [
      'From: MAILER-DAEMON@mx.example.net',
      'Content-Type: multipart/report; report-type=delivery-status; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain',
      '',
      'Sorry.',
      '--b',
      'Content-Type: message/delivery-status',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from(fields).toString('base64'),
      '--b--',
      '',
    ].join('\r\n');
    expect(parseFeedbackMessage(raw)).toMatchObject({ kind: 'bounce', bounce: 'soft_bounce', status: '5.2.2', diagnostic: '552 5.2.2 Mailbox full' });
  });
});

describe('bounceKindOfStatus', () => {
  it.each([
    ['5.1.1', undefined, 'hard_bounce'],
    ['5.1.10', 'failed', 'hard_bounce'],
    ['5.0.0', 'failed', 'hard_bounce'],
    ['5.2.2', 'failed', 'soft_bounce'],
    ['4.2.2', 'failed', 'soft_bounce'],
    ['4.4.1', 'delayed', 'soft_bounce'],
    ['5.7.1', 'failed', 'soft_bounce'],
    ['5.1.1', 'delayed', 'soft_bounce'],
    ['2.0.0', 'delivered', null],
    ['5.1.1', 'relayed', null],
    ['banana', 'failed', null],
    ['', undefined, null],
  ])('%s with Action %s is %s', (status, action, expected) => {
    expect(bounceKindOfStatus(status, action)).toBe(expected);
  });
});

describe('feedback addresses (VERP)', () => {
  const addresses = createFeedbackAddresses(createTokenSigner('s'.repeat(40), 'feedback-address'), 'Bounces.Acme.Example');

  it('fit the 64-octet local part of RFC 5321 and name their send', () => {
    for (let i = 0; i < 200; i++) {
      const sendId = randomUUID();
      for (const address of [addresses.bounce(sendId), addresses.unsubscribe(sendId)]) {
        const local = address.slice(0, address.lastIndexOf('@'));
        expect(local.length).toBeLessThanOrEqual(MAX_LOCAL_PART);
        expect(local).toMatch(/^[A-Za-z0-9+_.-]+$/);
        expect(local).not.toMatch(/\.\.|^\.|\.$/);
      }
      expect(addresses.read(addresses.bounce(sendId))).toEqual({ kind: 'bounce', sendId });
      expect(addresses.read(addresses.unsubscribe(sendId))).toEqual({ kind: 'unsubscribe', sendId });
    }
  });

  it('refuses forged, altered and foreign addresses', () => {
    const sendId = randomUUID();
    const genuine = addresses.bounce(sendId);
    const other = createFeedbackAddresses(createTokenSigner('t'.repeat(40), 'feedback-address'), 'bounces.acme.example');
    const unsubscribeSigner = createFeedbackAddresses(createTokenSigner('s'.repeat(40), 'unsubscribe'), 'bounces.acme.example');
    const flipped = genuine.replace(/\.(.)/, (_m, c: string) => `.${c === 'A' ? 'B' : 'A'}`);
    for (const forged of [
      other.bounce(sendId),
      unsubscribeSigner.bounce(sendId),
      flipped,
      genuine.replace('bounces.acme.example', 'evil.example'),
      `bounce+${'A'.repeat(30)}.${'A'.repeat(22)}@bounces.acme.example`,
      'bounce+@bounces.acme.example',
      'postmaster@bounces.acme.example',
      'no-at-sign',
    ]) {
      expect(addresses.read(forged)).toBeNull();
    }
  });
});
