/*
 * Accounts: the leads of one company, grouped by the domain of their email address. Webmail
 * never groups (two gmail.com addresses are two people, not one buyer). Pure; the SQL that looks
 * leads up by domain (accounts.repository.ts) uses the same rule through ACCOUNT_DOMAIN_SQL.
 */

/**
 * Common free webmail and ISP mailbox domains, in one place: whatever uses "is this a company
 * address" reads this list. Lower case.
 */
export const WEBMAIL_DOMAINS: ReadonlySet<string> = new Set([
  // Google, Yahoo, Microsoft, Apple, AOL
  'gmail.com',
  'googlemail.com',
  'yahoo.com',
  'yahoo.co.uk',
  'yahoo.co.jp',
  'yahoo.fr',
  'yahoo.de',
  'yahoo.es',
  'yahoo.it',
  'yahoo.ca',
  'yahoo.com.br',
  'yahoo.com.au',
  'yahoo.co.in',
  'ymail.com',
  'rocketmail.com',
  'hotmail.com',
  'hotmail.co.uk',
  'hotmail.fr',
  'hotmail.de',
  'hotmail.it',
  'hotmail.es',
  'outlook.com',
  'outlook.fr',
  'outlook.de',
  'outlook.es',
  'outlook.it',
  'live.com',
  'live.co.uk',
  'live.fr',
  'live.de',
  'live.nl',
  'msn.com',
  'aol.com',
  'icloud.com',
  'me.com',
  'mac.com',
  // Private and paid mailboxes
  'proton.me',
  'protonmail.com',
  'protonmail.ch',
  'pm.me',
  'tutanota.com',
  'tuta.io',
  'posteo.de',
  'mailbox.org',
  'zoho.com',
  'zohomail.com',
  'fastmail.com',
  'hey.com',
  'mail.com',
  'email.com',
  // Germany, Austria, Switzerland
  'gmx.com',
  'gmx.de',
  'gmx.net',
  'gmx.at',
  'gmx.ch',
  'gmx.fr',
  'web.de',
  't-online.de',
  'freenet.de',
  // France, Italy, the UK
  'orange.fr',
  'wanadoo.fr',
  'free.fr',
  'laposte.net',
  'sfr.fr',
  'libero.it',
  'virgilio.it',
  'tiscali.it',
  'btinternet.com',
  'sky.com',
  'virginmedia.com',
  'ntlworld.com',
  // Eastern Europe and Russia
  'seznam.cz',
  'wp.pl',
  'o2.pl',
  'onet.pl',
  'interia.pl',
  'mail.ru',
  'inbox.ru',
  'bk.ru',
  'list.ru',
  'yandex.ru',
  'yandex.com',
  'ya.ru',
  // Asia
  'qq.com',
  'foxmail.com',
  '163.com',
  '126.com',
  'sina.com',
  'naver.com',
  'hanmail.net',
  'daum.net',
  'rediffmail.com',
  // North American and Australian ISPs
  'comcast.net',
  'verizon.net',
  'att.net',
  'sbcglobal.net',
  'cox.net',
  'charter.net',
  'shaw.ca',
  'rogers.com',
  'sympatico.ca',
  'bigpond.com',
]);

/**
 * A domain with more leads than this is not one buyer (a webmail or ISP missing from the list
 * above, or a university): it never groups, as webmail. Checked when a briefing is composed.
 */
export const MAX_ACCOUNT_PEOPLE = 5000;

/** The domain part of an address, lower case; null when there is none. */
export function emailDomain(email: string): string | null {
  const at = email.lastIndexOf('@');
  const domain =
    at >= 0
      ? email
          .slice(at + 1)
          .trim()
          .toLowerCase()
      : '';
  return domain === '' ? null : domain;
}

/** The account an address belongs to (its company domain), or null for webmail and malformed addresses. */
export function accountDomainOf(email: string): string | null {
  const domain = emailDomain(email);
  return domain && !WEBMAIL_DOMAINS.has(domain) ? domain : null;
}

/** The SQL expression of emailDomain over leads.email; the index leads_email_domain (migration 0009) is on exactly this. */
export const ACCOUNT_DOMAIN_SQL = "lower(substring(email from '@([^@]*)$'))";

/** Who else at the account engaged lately: the buying group shown in a briefing. */
export const BUYING_GROUP_DAYS = 30;
