import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { hashEmail, type SuppressionReason } from './suppression.js';
import { findSuppressedHashes, insertSuppression, readSuppressionSalt } from './suppression.repository.js';

export interface SuppressionService {
  hash(email: string): string;
  isSuppressed(email: string): Promise<boolean>;
  /** The subset of the given addresses that are suppressed, lower-cased. */
  suppressedAmong(emails: string[]): Promise<Set<string>>;
  suppress(db: Kysely<Database>, email: string, reason: SuppressionReason): Promise<void>;
}

export async function createSuppressionService(db: Kysely<Database>): Promise<SuppressionService> {
  const salt = await readSuppressionSalt(db);
  const hash = (email: string) => hashEmail(salt, email);
  return {
    hash,
    async isSuppressed(email) {
      return (await findSuppressedHashes(db, [hash(email)])).size > 0;
    },
    async suppressedAmong(emails) {
      const byHash = new Map(emails.map((email) => [hash(email), email.trim().toLowerCase()]));
      const found = await findSuppressedHashes(db, [...byHash.keys()]);
      return new Set([...found].map((found) => byHash.get(found) ?? ''));
    },
    // Takes the db (or transaction) so erasure can suppress and delete atomically.
    async suppress(executor, email, reason) {
      await insertSuppression(executor, hash(email), reason);
    },
  };
}
