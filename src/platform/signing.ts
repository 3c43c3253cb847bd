import { createHmac, timingSafeEqual } from 'node:crypto';

/*
 * Signed, opaque tokens for links in emails (unsubscribe, tracking, rep actions, sign-in). The
 * payload is readable but cannot be forged or altered without BATON_SECRET. Each purpose gets its
 * own key, so a token made for one kind of link never verifies as another. Tokens are signed with
 * the current secret; `previous` secrets (BATON_SECRET_PREVIOUS, during a rotation) still verify,
 * so the links in emails already sent keep working.
 */

export interface TokenSigner {
  sign(payload: string): string;
  /** The payload, or null for anything not signed by this signer (altered, truncated, foreign). */
  verify(token: string): string | null;
}

const SIGNATURE_BYTES = 16;
const SIGNATURE_CHARS = Math.ceil((SIGNATURE_BYTES * 8) / 6);
const BASE64URL = /^[A-Za-z0-9_-]+$/;

export function createTokenSigner(secret: string, purpose: string, previous: readonly string[] = []): TokenSigner {
  const keyOf = (from: string) => createHmac('sha256', from).update(`baton:${purpose}`).digest();
  const macWith = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest().subarray(0, SIGNATURE_BYTES);
  const key = keyOf(secret);
  const previousKeys = previous.filter((old) => old !== secret).map(keyOf);
  const mac = (payload: string) => macWith(key, payload);
  const matches = (given: Buffer, expected: Buffer) => given.length === expected.length && timingSafeEqual(given, expected);
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
      if (!matches(given, mac(payload)) && !previousKeys.some((old) => matches(given, macWith(old, payload)))) return null;
      // Bytes that are not valid UTF-8 would decode to a different payload than the one signed.
      return Buffer.from(payload).equals(payloadBytes) ? payload : null;
    },
  };
}
