import type { TokenSigner } from '../platform/signing.js';

/*
 * The minimum fill time, without cookies or a third party: the form carries a signed token
 * saying when it was served; a submit that comes back sooner than the form's `min_fill_seconds`
 * (or a day later, or with a token made for another form) is a script's. Pure apart from the signer.
 */

const MAX_AGE_MS = 24 * 60 * 60_000;

export function startedToken(signer: TokenSigner, formId: string, now: Date): string {
  return signer.sign(`${formId}:${now.getTime()}`);
}

export type FillTime = { kind: 'ok' } | { kind: 'missing' } | { kind: 'invalid' } | { kind: 'too_fast' } | { kind: 'expired' };

export function checkFillTime(signer: TokenSigner, token: unknown, formId: string, minFillSeconds: number, now: Date): FillTime {
  if (typeof token !== 'string' || token === '') return { kind: 'missing' };
  const payload = signer.verify(token);
  const match = payload === null ? null : /^(.+):(\d{1,15})$/.exec(payload);
  if (!match || match[1] !== formId) return { kind: 'invalid' };
  const elapsed = now.getTime() - Number(match[2]);
  if (elapsed < minFillSeconds * 1000) return { kind: 'too_fast' };
  if (elapsed > MAX_AGE_MS) return { kind: 'expired' };
  return { kind: 'ok' };
}
