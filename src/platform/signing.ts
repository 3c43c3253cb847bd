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
const SIGNATURE_CHARS = Math.ceil((SIGNATURE_BYTES * 8) / 6);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function createTokenSigner(secret: string, purpose: string): TokenSigner {
  const key = createHmac('sha256', secret).update(`baton:${purpose}`).digest();
  const mac = (payload: string) => createHmac('sha256', key).update(payload).digest().subarray(0, SIGNATURE_BYTES);
  return {
    sign(payload) {
      return `${Buffer.from(payload).toString('base64url')}.${mac(payload).toString('base64url')}`;
    },
    verify(token) {
      // Exactly one spelling per token: canonical base64url, no padding. Node's decoder skips
      // padding, stray characters and the spare bits of the last character, so without this check
      // one signature would have many valid spellings (malleable tokens, issue 16).
      if (token.length > 512) return null;
      const parts = token.split('.');
      const [encoded = '', signature = ''] = parts;
      if (parts.length !== 2 || !BASE64URL.test(encoded) || signature.length !== SIGNATURE_CHARS || !BASE64URL.test(signature)) return null;
      const payloadBytes = Buffer.from(encoded, 'base64url');
      const given = Buffer.from(signature, 'base64url');
      if (payloadBytes.toString('base64url') !== encoded || given.toString('base64url') !== signature) return null;
      const payload = payloadBytes.toString('utf8');
      const expected = mac(payload);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
      // Bytes that are not valid UTF-8 would decode to a different payload than the one signed.
      return Buffer.from(payload).equals(payloadBytes) ? payload : null;
    },
  };
}
