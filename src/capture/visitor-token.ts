import { createTokenSigner, type TokenSigner } from '../platform/signing.js';

/*
 * A click on a tracked email link lands on the marketer's site with `baton_vt=<token>` in the URL:
 * the lead's id and an expiry, signed with BATON_SECRET for this purpose only. The snippet sends
 * it once with its first event and strips it from the address bar, and the collect endpoint joins
 * the visitor to that lead. The address itself is never in a URL. A token that is forged, altered
 * or expired is ignored: the event is still recorded, anonymously.
 */

/** The query parameter the click redirect appends and the snippet reads (docs/capture.md). */
export const VISITOR_TOKEN_PARAM = 'baton_vt';
/** Long enough for the landing page to load, short enough that a forwarded link identifies nobody for long. */
export const VISITOR_TOKEN_LIFETIME_MS = 60 * 60_000;

export interface VisitorTokens {
  sign(leadId: string, now: Date): string;
  /** The lead id, or null for a token Baton did not sign or that has expired. */
  verify(token: string, now: Date): string | null;
}

export function createVisitorTokens(secret: string, previousSecrets: string[] = []): VisitorTokens {
  const signer: TokenSigner = createTokenSigner(secret, 'visitor', previousSecrets);
  return {
    sign: (leadId, now) => signer.sign(`${leadId}.${Math.floor((now.getTime() + VISITOR_TOKEN_LIFETIME_MS) / 1000)}`),
    verify(token, now) {
      const payload = signer.verify(token);
      const match = payload ? /^([0-9a-f-]{36})\.(\d{1,12})$/.exec(payload) : null;
      if (!match?.[1] || Number(match[2]) * 1000 < now.getTime()) return null;
      return match[1];
    },
  };
}

/**
 * `url` with `baton_vt=<token>` appended to its query, every other byte as it was: the URL is not
 * parsed and re-serialised (that would re-encode a marketer's query string or lowercase a host),
 * only split at its fragment. The token is base64url and a dot, so it needs no encoding.
 */
export function withVisitorToken(url: string, token: string): string {
  const hash = url.indexOf('#');
  const beforeHash = hash === -1 ? url : url.slice(0, hash);
  const fragment = hash === -1 ? '' : url.slice(hash);
  const separator = !beforeHash.includes('?') ? '?' : beforeHash.endsWith('?') || beforeHash.endsWith('&') ? '' : '&';
  return `${beforeHash}${separator}${VISITOR_TOKEN_PARAM}=${token}${fragment}`;
}

/** The origin of an absolute http(s) URL, or null; what a browser would send as Origin from that page. */
export function originOf(url: string): string | null {
  if (!URL.canParse(url)) return null;
  const parsed = new URL(url);
  return /^https?:$/.test(parsed.protocol) ? parsed.origin : null;
}
