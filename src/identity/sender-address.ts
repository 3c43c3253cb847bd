import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser/index.js';
import { getDomain } from 'tldts';

/*
 * The sender's address and domain, and DMARC's relaxed alignment: the From domain and the DKIM
 * signing domain must share their organizational domain (the registrable domain of the Public
 * Suffix List: mail.acme.co.uk and acme.co.uk align, acme.co.uk and other.co.uk do not).
 */

/** The one address of a From value ("Acme <hello@acme.example>"), or null when it holds none or several. */
export function senderAddress(from: string): { address: string; domain: string } | null {
  const parsed = addressparser(from, { flatten: true });
  const [first] = parsed;
  if (parsed.length !== 1 || !first) return null;
  const at = first.address.lastIndexOf('@');
  if (at <= 0 || at === first.address.length - 1) return null;
  return { address: first.address, domain: first.address.slice(at + 1).toLowerCase() };
}

export function organizationalDomain(domain: string): string {
  const ascii = domainToASCII(domain.toLowerCase()) || domain.toLowerCase();
  return getDomain(ascii, { allowPrivateDomains: false }) ?? ascii;
}

export function alignedDomains(fromDomain: string, signingDomain: string): boolean {
  return organizationalDomain(fromDomain) === organizationalDomain(signingDomain);
}

/** The right-hand side of Baton's Message-IDs: the From domain in ASCII, else the public URL's host. */
export function messageIdDomain(mailFrom: string, publicUrl: string): string {
  const domain = senderAddress(mailFrom)?.domain;
  const ascii = domain ? domainToASCII(domain) : '';
  return ascii || new URL(publicUrl).hostname;
}
