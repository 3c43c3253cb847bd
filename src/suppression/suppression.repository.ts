import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { SuppressionReason } from './suppression.js';

export async function readSuppressionSalt(db: Kysely<Database>): Promise<string> {
  const row = await db.selectFrom('settings').select('value').where('key', '=', 'suppression_salt').executeTakeFirst();
  if (!row) throw new Error('settings.suppression_salt is missing: migrations did not run');
  return row.value;
}

export async function findSuppressedHashes(db: Kysely<Database>, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const rows = await db.selectFrom('suppressions').select('email_hash').where('email_hash', 'in', hashes).execute();
  return new Set(rows.map((row) => row.email_hash));
}

export async function insertSuppression(db: Kysely<Database>, emailHash: string, reason: SuppressionReason): Promise<void> {
  await db.insertInto('suppressions').values({ email_hash: emailHash, reason }).onConflict((oc) => oc.column('email_hash').doNothing()).execute();
}
