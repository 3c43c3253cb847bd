import { accountDomainOf, emailDomain, WEBMAIL_DOMAINS } from '../../src/accounts/account.js';

describe('accounts by company email domain', () => {
  it.each<[string, string, string | null]>([
    ['a company address', 'ada@globex.com', 'globex.com'],
    ['the same company whatever the case', 'Grace@GLOBEX.com', 'globex.com'],
    ['a subdomain as its own account', 'tim@eu.globex.com', 'eu.globex.com'],
    ['the part after the last @', '"odd@name"@initech.io', 'initech.io'],
    ['no account for gmail', 'ada@gmail.com', null],
    ['no account for webmail whatever the case', 'ada@Outlook.COM', null],
    ['no account for proton', 'ada@proton.me', null],
    ['no account for a regional webmail', 'ada@yahoo.co.uk', null],
    ['no account without a domain', 'ada@', null],
    ['no account without an @', 'ada', null],
  ])('%s', (_case, email, expected) => {
    expect(accountDomainOf(email)).toBe(expected);
  });

  it('keeps the webmail list lower case, so that lookups by lower-cased domain find every entry', () => {
    expect([...WEBMAIL_DOMAINS].filter((domain) => domain !== domain.toLowerCase() || emailDomain(`x@${domain}`) !== domain)).toEqual([]);
  });

  it('covers the free-webmail domains of the shipped scoring.yaml', async () => {
    const { readFile } = await import('node:fs/promises');
    const scoring = await readFile(new URL('../../scoring.yaml', import.meta.url), 'utf8');
    const listed = /id: free-webmail,[^\n]*email_domain_in: \[([^\]]+)\]/.exec(scoring)?.[1]?.split(',').map((domain) => domain.trim()) ?? [];
    expect(listed.length).toBeGreaterThan(3);
    expect(listed.filter((domain) => !WEBMAIL_DOMAINS.has(domain))).toEqual([]);
  });
});
