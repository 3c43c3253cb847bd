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
  'gmail.com', 'googlemail.com', 'yahoo.com', 'yahoo.co.uk', 'yahoo.fr', 'yahoo.de', 'ymail.com', 'rocketmail.com',
  'hotmail.com', 'hotmail.co.uk', 'hotmail.fr', 'hotmail.de', 'outlook.com', 'outlook.fr', 'live.com', 'live.co.uk', 'live.fr', 'msn.com',
  'aol.com', 'icloud.com', 'me.com', 'mac.com', 'proton.me', 'protonmail.com', 'pm.me', 'tutanota.com', 'tuta.io',
  'gmx.com', 'gmx.de', 'gmx.net', 'gmx.fr', 'web.de', 't-online.de', 'mail.com', 'email.com', 'zoho.com', 'zohomail.com',
  'yandex.com', 'yandex.ru', 'mail.ru', 'qq.com', '163.com', '126.com', 'orange.fr', 'wanadoo.fr', 'free.fr', 'laposte.net',
  'sfr.fr', 'libero.it', 'comcast.net', 'verizon.net', 'att.net', 'sbcglobal.net', 'btinternet.com', 'hey.com', 'fastmail.com',
]);

/** The domain part of an address, lower case; null when there is none. */
export function emailDomain(email: string): string | null {
  const at = email.lastIndexOf('@');
  const domain = at >= 0 ? email.slice(at + 1).trim().toLowerCase() : '';
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
