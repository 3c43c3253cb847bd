import { alignedDomains, senderAddress } from './sender-address.js';

/*
 * What start-up checks about who Baton sends as. In production a finding stops Baton (mail that
 * fails DMARC goes to spam or is rejected); in development it is a warning in the log.
 */

export interface SenderIdentityInput {
  mailFrom: string;
  dkimDomain: string | null;
}

export function senderIdentityFindings({ mailFrom, dkimDomain }: SenderIdentityInput): string[] {
  const sender = senderAddress(mailFrom);
  if (!sender) return [];
  if (!dkimDomain) return [];
  if (alignedDomains(sender.domain, dkimDomain)) return [];
  return [
    `BATON_MAIL_FROM (${sender.domain}) is not aligned with DKIM_DOMAIN (${dkimDomain}): DMARC wants the From domain and the signing domain to share their organizational domain; sign as ${sender.domain} or send from an address at ${dkimDomain}`,
  ];
}
