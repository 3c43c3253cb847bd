import type { TokenSigner } from '../platform/signing.js';

/*
 * VERP addresses (variable envelope return path): each email's envelope sender names its send,
 * signed, so that a bounce maps to its send even when the DSN itself is mangled, and nobody can
 * make Baton suppress an address by mailing a forged bounce.
 *
 *   bounce+<token>@BATON_BOUNCE_DOMAIN        envelope sender (Return-Path): DSNs come back here
 *   unsubscribe+<token>@BATON_BOUNCE_DOMAIN   the mailto: List-Unsubscribe beside the https one
 *
 * RFC 5321 §4.5.3.1.1 caps a local part at 64 octets. A send id is a UUID (36 characters); the
 * token signs its 16 bytes written in base64url (22 characters); the signer encodes that payload
 * again (30 characters) and adds a dot and a 22-character signature: 53 characters. "bounce+" + 53
 * is 60; "unsubscribe+" + 53 would be 65, one too many, so that prefix is "unsub+" (59).
 * Local parts are case-sensitive (RFC 5321 §2.4); Postfix and the common relays keep the case.
 */

export const MAX_LOCAL_PART = 64;
const PREFIXES = { bounce: 'bounce+', unsubscribe: 'unsub+' } as const;
export type FeedbackAddressKind = keyof typeof PREFIXES;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface FeedbackAddresses {
  /** The envelope sender for this send. */
  bounce(sendId: string): string;
  /** The mailto: List-Unsubscribe address for this send. */
  unsubscribe(sendId: string): string;
  /** The send an address names, and what mail to it means; null for anything Baton did not sign. */
  read(address: string): { kind: FeedbackAddressKind; sendId: string } | null;
  readonly domain: string;
}

export function createFeedbackAddresses(signer: TokenSigner, domain: string): FeedbackAddresses {
  const normalisedDomain = domain.trim().toLowerCase();
  const address = (kind: FeedbackAddressKind, sendId: string) => {
    if (!UUID.test(sendId)) throw new Error(`not a send id: ${sendId}`);
    const local = `${PREFIXES[kind]}${signer.sign(Buffer.from(sendId.replace(/-/g, ''), 'hex').toString('base64url'))}`;
    if (local.length > MAX_LOCAL_PART) throw new Error(`feedback address local part is ${local.length} characters, over ${MAX_LOCAL_PART}`);
    return `${local}@${normalisedDomain}`;
  };
  return {
    domain: normalisedDomain,
    bounce: (sendId) => address('bounce', sendId),
    unsubscribe: (sendId) => address('unsubscribe', sendId),
    read(text) {
      const at = text.lastIndexOf('@');
      if (at < 0 || text.slice(at + 1).toLowerCase() !== normalisedDomain) return null;
      const local = text.slice(0, at);
      for (const kind of Object.keys(PREFIXES) as FeedbackAddressKind[]) {
        const prefix = PREFIXES[kind];
        if (!local.toLowerCase().startsWith(prefix)) continue;
        const payload = signer.verify(local.slice(prefix.length));
        if (payload === null) return null;
        const bytes = Buffer.from(payload, 'base64url');
        if (bytes.length !== 16 || bytes.toString('base64url') !== payload) return null;
        const hex = bytes.toString('hex');
        return { kind, sendId: `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` };
      }
      return null;
    },
  };
}
