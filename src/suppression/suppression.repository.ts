import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { SuppressionReason } from './suppression.js';

type Db = Kysely<Database>;

export async function readSuppressionSalt(db: Db): Promise<string> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', 'suppression_salt').executeTakeFirst();
  if (!row) throw new Error('settings.suppression_salt is missing: migrations did not run');
  return row.value;
}

export async function findSuppressedHashes(db: Db, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  // One array parameter rather than one per hash: batches of a thousand bind and plan faster.
  const rows = await db
    .selectFrom('suppressions')
    .select('email_hash')
    .where(sql<boolean>`email_hash = any(${hashes}::text[])`)
    .execute();
  return new Set(rows.map((row) => row.email_hash));
}

export async function insertSuppression(db: Db, emailHash: string, reason: SuppressionReason): Promise<void> {
  await db
    .insertInto('suppressions')
    .values({ email_hash: emailHash, reason })
    .onConflict((oc) => oc.column('email_hash').doNothing())
    .execute();
}

/**
 * Transaction-scoped advisory locks, one per address hash, taken in sorted order so that two
 * transactions locking overlapping sets cannot deadlock.
 */
export async function lockEmailHashes(trx: Db, hashes: string[]): Promise<void> {
  if (hashes.length === 0) return;
  const sorted = [...new Set(hashes)].sort();
  await sql`select pg_advisory_xact_lock(hashtextextended(h, 7224)) from unnest(${sorted}::text[]) with ordinality as t(h, n) order by n`.execute(trx);
}
