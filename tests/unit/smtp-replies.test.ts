import { classifySmtpFailure, retryDelayMs } from '../../src/mail/smtp-replies.js';

describe('classifySmtpFailure', () => {
  it.each([
    [
      '550 5.1.1 user unknown at RCPT',
      { responseCode: 550, response: '550 5.1.1 <a@b.co>: Recipient address rejected: User unknown', command: 'RCPT TO' },
      'hard_bounce',
    ],
    [
      '553 5.1.2 bad domain',
      { responseCode: 553, response: '553 5.1.2 The recipient address is not a valid RFC-5321 address', command: 'RCPT TO' },
      'hard_bounce',
    ],
    ['550 5.1.10 null MX', { responseCode: 550, response: '550 5.1.10 RESOLVER.ADR.RecipientNotFound', command: 'RCPT TO' }, 'hard_bounce'],
    ['550 without enhanced code, user unknown', { responseCode: 550, response: '550 No such user here', command: 'RCPT TO' }, 'hard_bounce'],
    [
      '553 5.1.8 sender address rejected',
      { responseCode: 553, response: '553 5.1.8 <me@example.com>: Sender address rejected: Domain not found', command: 'RCPT TO' },
      'sender_blocked',
    ],
    ['550 rejected at MAIL FROM', { responseCode: 550, response: '550 5.1.0 Sender rejected', command: 'MAIL FROM' }, 'sender_blocked'],
    ['5.1.1 buried in the text is not the status', { responseCode: 550, response: '550 Message rejected: IP 5.1.1.9 is listed', command: 'DATA' }, 'failed'],
    ['552 5.2.2 mailbox full', { responseCode: 552, response: '552 5.2.2 Mailbox full', command: 'RCPT TO' }, 'soft_bounce'],
    ['452 4.2.2 over quota', { responseCode: 452, response: '452 4.2.2 The email account is over quota', command: 'RCPT TO' }, 'soft_bounce'],
    [
      'bare 552 is transient',
      { responseCode: 552, response: '552 Requested mail action aborted: exceeded storage allocation', command: 'DATA' },
      'soft_bounce',
    ],
    [
      '550 5.7.26 DMARC',
      { responseCode: 550, response: '550 5.7.26 Unauthenticated email from example.com is not accepted', command: 'DATA' },
      'sender_blocked',
    ],
    [
      '550 5.7.515 Microsoft',
      { responseCode: 550, response: '550 5.7.515 Access denied, sending domain does not meet the required authentication level', command: 'DATA' },
      'sender_blocked',
    ],
    [
      '421 4.7.27 Gmail SPF',
      { responseCode: 421, response: '421 4.7.27 Your email has been rate limited because SPF authentication did not pass', command: 'DATA' },
      'sender_blocked',
    ],
    [
      '421 4.7.28 unusual rate',
      { responseCode: 421, response: '421 4.7.28 Our system has detected an unusual rate of unsolicited mail', command: 'DATA' },
      'throttle',
    ],
    [
      '450 4.2.1 receiving too fast',
      { responseCode: 450, response: '450 4.2.1 The user you are trying to contact is receiving mail too quickly', command: 'RCPT TO' },
      'throttle',
    ],
    ['451 4.7.1 greylisted', { responseCode: 451, response: '451 4.7.1 Greylisted, please try again later', command: 'RCPT TO' }, 'retry'],
    ['421 4.7.0 try later', { responseCode: 421, response: '421 4.7.0 Try again later, closing connection', command: 'CONN' }, 'retry'],
    ['451 plain', { responseCode: 451, response: '451 Temporary local problem', command: 'DATA' }, 'retry'],
    ['554 5.6.0 content', { responseCode: 554, response: '554 5.6.0 Message content rejected', command: 'DATA' }, 'failed'],
    ['authentication failed', { code: 'EAUTH', command: 'AUTH PLAIN', message: 'Invalid login' }, 'sender_blocked'],
    ['connection refused', { code: 'ECONNECTION', command: 'CONN', message: 'connect ECONNREFUSED 127.0.0.1:25' }, 'retry'],
    ['DNS failure', { code: 'EDNS', command: 'CONN', message: 'getaddrinfo ENOTFOUND mx.example.com' }, 'retry'],
    ['connection dropped mid-session', { code: 'ECONNECTION', command: 'CONN', message: 'Connection closed unexpectedly' }, 'unknown'],
    ['timeout', { code: 'ETIMEDOUT', command: 'CONN', message: 'Timeout' }, 'unknown'],
    ['bad envelope', { code: 'EENVELOPE', command: 'API', message: 'No recipients defined' }, 'failed'],
  ])('%s → %s', (_name, failure, kind) => {
    expect(classifySmtpFailure(failure).kind).toBe(kind);
  });
});

describe('retryDelayMs', () => {
  it('starts within minutes, backs off to at least half an hour, and gives up after about two days', () => {
    expect(retryDelayMs(1)).toBe(60_000);
    expect(retryDelayMs(4)).toBeGreaterThanOrEqual(30 * 60_000);
    const total = Array.from({ length: 10 }, (_, i) => retryDelayMs(i + 1) ?? 0).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(2 * 24 * 3_600_000);
    expect(retryDelayMs(11)).toBeNull();
  });
});
