import type { TokenSigner } from '../platform/signing.js';

/*
 * What an unsubscribe link carries: the lead, and which send it came from (for per-step stats).
 * Tokens never expire: CAN-SPAM wants the mechanism to work for at least 30 days after a send,
 * and an old email's link that stops working only drives people to the spam button.
 */

export interface UnsubscribeClaim {
  leadId: string;
  sendId: string | null;
}

export function unsubscribeUrl(publicUrl: string, signer: TokenSigner, claim: UnsubscribeClaim): string {
  return `${publicUrl}/u/${signer.sign(JSON.stringify([claim.leadId, claim.sendId]))}`;
}

export function readUnsubscribeToken(signer: TokenSigner, token: string): UnsubscribeClaim | null {
  const payload = signer.verify(token);
  if (payload === null) return null;
  try {
    const parsed: unknown = JSON.parse(payload);
    if (!Array.isArray(parsed) || typeof parsed[0] !== 'string') return null;
    return { leadId: parsed[0], sendId: typeof parsed[1] === 'string' ? parsed[1] : null };
  } catch {
    return null;
  }
}
