import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';

type Db = Kysely<Database>;

export interface SessionRow {
  rep_id: string | null;
  key_fingerprint: string | null;
  expires_at: Date;
  revoked_at: Date | null;
}

export async function insertSession(db: Db, row: { tokenHash: string; repId: string | null; keyFingerprint: string | null; expiresAt: Date }): Promise<void> {
  await db
    .insertInto('dashboard_sessions')
    .values({ token_hash: row.tokenHash, rep_id: row.repId, key_fingerprint: row.keyFingerprint, expires_at: row.expiresAt })
    .execute();
}

export async function findSession(db: Db, tokenHash: string): Promise<SessionRow | undefined> {
  return db
    .selectFrom('dashboard_sessions')
    .select(['rep_id', 'key_fingerprint', 'expires_at', 'revoked_at'])
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst();
}

export async function revokeSession(db: Db, tokenHash: string, now: Date): Promise<void> {
  await db.updateTable('dashboard_sessions').set({ revoked_at: now }).where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).execute();
}

/** False when the nonce was already used: the primary key decides, so two clicks cannot both win. */
export async function markLinkUsed(db: Db, nonce: string, repId: string, expiresAt: Date): Promise<boolean> {
  const inserted = await db
    .insertInto('dashboard_used_links')
    .values({ nonce, rep_id: repId, expires_at: expiresAt })
    .onConflict((conflict) => conflict.column('nonce').doNothing())
    .returning('nonce')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function isLinkUsed(db: Db, nonce: string): Promise<boolean> {
  return (await db.selectFrom('dashboard_used_links').select('nonce').where('nonce', '=', nonce).executeTakeFirst()) !== undefined;
}

/** Sessions and used links that can no longer matter (a day past expiry), so the tables stay small. */
export async function deleteExpired(db: Db, now: Date): Promise<void> {
  const before = new Date(now.getTime() - 86_400_000);
  await db.deleteFrom('dashboard_sessions').where('expires_at', '<', before).execute();
  await db.deleteFrom('dashboard_used_links').where('expires_at', '<', before).execute();
}
