import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Signed, opaque tokens for links in emails (unsubscribe now; tracking later). The payload is
 * readable but cannot be forged or altered without BATON_SECRET. Each purpose gets its own key,
 * so a token made for one kind of link never verifies as another.
 */

export interface TokenSigner {
  sign(payload: string): string;
  /** The payload, or null for anything not signed by this signer (altered, truncated, foreign). */
  verify(token: string): string | null;
}

const SIGNATURE_BYTES = 16;

export function createTokenSigner(secret: string, purpose: string): TokenSigner {
  const key = createHmac('sha256', secret).update(`baton:${purpose}`).digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest().subarray(0, SIGNATURE_BYTES);
  return {
    sign(payload) {
      return `${Buffer.from(payload).toString('base64url')}.${mac(payload).toString('base64url')}`;
    },
    verify(token) {
      const [encoded, signature, ...rest] = token.split('.');
      if (!encoded || !signature || rest.length > 0 || token.length > 512) return null;
      const payload = Buffer.from(encoded, 'base64url').toString('utf8');
      const given = Buffer.from(signature, 'base64url');
      const expected = mac(payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      // Reject non-canonical encodings so that one payload has exactly one valid token.
      return Buffer.from(payload).toString('base64url') === encoded ? payload : null;
    },
  };
}
