import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Rep } from '../handoff/sales-team.js';
import type { Database } from '../platform/db/schema.js';
import { createTokenSigner } from '../platform/signing.js';
import { deleteExpired, findSession, insertSession, isLinkUsed, markLinkUsed, revokeSession } from './sessions.repository.js';

/*
 * Who is signed in to the dashboard. The API key holder is the admin; the reps of sales-team.yaml
 * sign in with a single-use link sent to their address. Sessions live in the database (the hash
 * of a random token), so signing out ends one for good, and an admin session is tied to the key
 * it was made with: rotating BATON_API_KEY ends every admin session.
 */

export type Viewer = { kind: 'admin' } | { kind: 'rep'; rep: Rep };

export type SignInLink =
  | { kind: 'valid'; rep: Rep; next: string }
  /** Forged, altered, not a sign-in link, or for a rep no longer in the team. */
  | { kind: 'invalid' }
  | { kind: 'expired' }
  | { kind: 'used' };

export type Redeemed = { kind: 'signed_in'; token: string; rep: Rep; next: string } | { kind: 'invalid' } | { kind: 'expired' } | { kind: 'used' };

export interface DashboardSessions {
  /** Constant time, and no length leak: the digests are compared, not the keys. */
  isApiKey(given: string): boolean;
  startAdmin(now: Date): Promise<string>;
  read(token: string, now: Date): Promise<Viewer | null>;
  revoke(token: string, now: Date): Promise<void>;
  /** The rep with this address (any case), or null. */
  repByEmail(email: string): Rep | null;
  /** The URL of a sign-in link for `rep`, valid LINK_MINUTES, that lands on `next`. */
  signInLink(rep: Rep, next: string, now: Date): string;
  /** What a link stands for, without using it (GET shows a button; mail scanners fetch links). */
  readLink(token: string, now: Date): Promise<SignInLink>;
  /** Uses the link once and starts the rep's session. */
  redeem(token: string, now: Date): Promise<Redeemed>;
}

export interface SessionsDeps {
  db: Kysely<Database>;
  apiKey: string;
  secret: string;
  publicUrl: string;
  reps: Rep[];
}

export const SESSION_HOURS = 12;
export const LINK_MINUTES = 15;

const sha256 = (value: string) => createHash('sha256').update(value).digest();

export function createDashboardSessions(deps: SessionsDeps): DashboardSessions {
  const { db } = deps;
  const keyDigest = sha256(deps.apiKey);
  // Keyed with the secret, so the stored value says nothing about the key to a reader of the table.
  const keyFingerprint = createHmac('sha256', deps.secret).update(`dashboard-admin:${deps.apiKey}`).digest('hex');
  const linkSigner = createTokenSigner(deps.secret, 'dashboard-sign-in');
  const repById = new Map(deps.reps.map((rep) => [rep.id, rep]));
  const repByEmail = new Map(deps.reps.map((rep) => [rep.email.toLowerCase(), rep]));

  const start = async (repId: string | null, now: Date) => {
    const token = randomBytes(32).toString('base64url');
    await deleteExpired(db, now);
    await insertSession(db, {
      tokenHash: sha256(token).toString('hex'),
      repId,
      keyFingerprint: repId === null ? keyFingerprint : null,
      expiresAt: new Date(now.getTime() + SESSION_HOURS * 3_600_000),
    });
    return token;
  };

  const parseLink = (
    token: string,
    now: Date,
  ): { kind: 'valid'; rep: Rep; next: string; nonce: string; expiresAt: Date } | { kind: 'invalid' } | { kind: 'expired' } => {
    const payload = linkSigner.verify(token);
    if (payload === null) return { kind: 'invalid' };
    let parsed: unknown;
    try {
      parsed = JSON.parse(payload);
    } catch {
      return { kind: 'invalid' };
    }
    if (!Array.isArray(parsed) || parsed.length !== 4) return { kind: 'invalid' };
    const fields: unknown[] = parsed;
    const [repId, nonce, expires, next] = fields;
    const rep = typeof repId === 'string' ? repById.get(repId) : undefined;
    if (!rep || typeof nonce !== 'string' || typeof expires !== 'number' || typeof next !== 'string') return { kind: 'invalid' };
    if (expires * 1000 <= now.getTime()) return { kind: 'expired' };
    return { kind: 'valid', rep, next, nonce, expiresAt: new Date(expires * 1000) };
  };

  return {
    isApiKey(given) {
      return timingSafeEqual(sha256(given), keyDigest);
    },

    startAdmin(now) {
      return start(null, now);
    },

    async read(token, now) {
      if (!/^[\w-]{43}$/.test(token)) return null;
      const row = await findSession(db, sha256(token).toString('hex'));
      if (!row || row.revoked_at !== null || row.expires_at.getTime() <= now.getTime()) return null;
      if (row.rep_id === null) return row.key_fingerprint === keyFingerprint ? { kind: 'admin' } : null;
      // A rep taken out of sales-team.yaml is signed out at the next request.
      const rep = repById.get(row.rep_id);
      return rep ? { kind: 'rep', rep } : null;
    },

    async revoke(token, now) {
      if (/^[\w-]{43}$/.test(token)) await revokeSession(db, sha256(token).toString('hex'), now);
    },

    repByEmail(email) {
      return repByEmail.get(email.trim().toLowerCase()) ?? null;
    },

    signInLink(rep, next, now) {
      const expires = Math.floor(now.getTime() / 1000) + LINK_MINUTES * 60;
      const token = linkSigner.sign(JSON.stringify([rep.id, randomBytes(16).toString('base64url'), expires, next]));
      return `${deps.publicUrl}/dashboard/sign-in/${token}`;
    },

    async readLink(token, now) {
      const link = parseLink(token, now);
      if (link.kind !== 'valid') return link;
      return (await isLinkUsed(db, link.nonce)) ? { kind: 'used' } : { kind: 'valid', rep: link.rep, next: link.next };
    },

    async redeem(token, now) {
      const link = parseLink(token, now);
      if (link.kind !== 'valid') return link;
      if (!(await markLinkUsed(db, link.nonce, link.rep.id, link.expiresAt))) return { kind: 'used' };
      return { kind: 'signed_in', token: await start(link.rep.id, now), rep: link.rep, next: link.next };
    },
  };
}
