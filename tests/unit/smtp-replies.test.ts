import { classifySmtpFailure, retryDelayMs } from '../../src/mail/smtp-replies.js';

describe('classifySmtpFailure', () => {
  it.each([
    ['550 5.1.1 user unknown', { responseCode: 550, response: '550 5.1.1 <a@b.co>: Recipient address rejected: User unknown' }, 'hard_bounce'],
    ['553 5.1.2 bad domain', { responseCode: 553, response: '553 5.1.2 The recipient address is not a valid RFC-5321 address' }, 'hard_bounce'],
    ['550 5.1.10 null MX', { responseCode: 550, response: '550 5.1.10 RESOLVER.ADR.RecipientNotFound' }, 'hard_bounce'],
    ['550 without enhanced code, user unknown', { responseCode: 550, response: '550 No such user here' }, 'hard_bounce'],
    ['552 5.2.2 mailbox full', { responseCode: 552, response: '552 5.2.2 Mailbox full' }, 'soft_bounce'],
    ['452 4.2.2 over quota', { responseCode: 452, response: '452 4.2.2 The email account is over quota' }, 'soft_bounce'],
    ['550 5.7.26 DMARC', { responseCode: 550, response: '550 5.7.26 Unauthenticated email from example.com is not accepted' }, 'sender_blocked'],
    ['550 5.7.515 Microsoft', { responseCode: 550, response: '550 5.7.515 Access denied, sending domain does not meet the required authentication level' }, 'sender_blocked'],
    ['421 4.7.28 rate limited', { responseCode: 421, response: '421 4.7.28 Our system has detected an unusual rate of unsolicited mail' }, 'sender_blocked'],
    ['450 4.2.1 try later', { responseCode: 450, response: '450 4.2.1 The user you are trying to contact is receiving mail too quickly' }, 'retry'],
    ['451 greylisted', { responseCode: 451, response: '451 Greylisted, please try again later' }, 'retry'],
    ['554 5.6.0 content', { responseCode: 554, response: '554 5.6.0 Message content rejected' }, 'failed'],
    ['connection refused', { code: 'ECONNECTION', command: 'CONN' }, 'retry'],
    ['timeout while greeting', { code: 'ETIMEDOUT', command: 'CONN' }, 'retry'],
    ['connection lost after the final dot', { code: 'ETIMEDOUT', command: 'DATA' }, 'unknown'],
  ])('%s → %s', (_name, failure, kind) => {
    expect(classifySmtpFailure(failure).kind).toBe(kind);
  });
});

describe('retryDelayMs', () => {
  it('starts within minutes, backs off to at least half an hour, and gives up after the schedule', () => {
    expect(retryDelayMs(1)).toBe(60_000);
    expect(retryDelayMs(4)).toBeGreaterThanOrEqual(30 * 60_000);
    const total = Array.from({ length: 10 }, (_, i) => retryDelayMs(i + 1) ?? 0).reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(2 * 24 * 3_600_000);
    expect(retryDelayMs(11)).toBeNull();
  });
});
