import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { hashEmail, type SuppressionReason } from './suppression.js';
import { findSuppressedHashes, insertSuppression, lockEmailHashes, readSuppressionSalt } from './suppression.repository.js';

type Db = Kysely<Database>;

/*
 * Every write that creates, renames or erases a lead runs in a transaction that first locks the
 * addresses it touches (lockAddresses). Without it, an erasure and a concurrent create or event
 * for the same address can interleave on a PostgreSQL server, and the erased address comes back.
 */
export interface SuppressionService {
  hash(email: string): string;
  /** Serialises writes about these addresses until the transaction ends. Call inside one. */
  lockAddresses(trx: Db, emails: string[]): Promise<void>;
  /** The subset of the given addresses that are suppressed, lower-cased. */
  suppressedAmong(db: Db, emails: string[]): Promise<Set<string>>;
  /** lockAddresses, then suppressedAmong: the suppressed subset, as it stands once the locks are held. */
  lockAndCheck(trx: Db, emails: string[]): Promise<Set<string>>;
  suppress(db: Db, email: string, reason: SuppressionReason): Promise<void>;
}

export async function createSuppressionService(db: Db): Promise<SuppressionService> {
  const salt = await readSuppressionSalt(db);
  const hash = (email: string) => hashEmail(salt, email);
  const hashAll = (emails: string[]) => new Map(emails.map((email) => [hash(email), email.trim().toLowerCase()]));
  const emailsOf = (byHash: Map<string, string>, hashes: Set<string>) => new Set([...hashes].flatMap((found) => byHash.get(found) ?? []));
  return {
    hash,
    async lockAddresses(trx, emails) {
      await lockEmailHashes(trx, emails.map(hash));
    },
    async suppressedAmong(executor, emails) {
      const byHash = hashAll(emails);
      return emailsOf(byHash, await findSuppressedHashes(executor, [...byHash.keys()]));
    },
    async lockAndCheck(trx, emails) {
      const byHash = hashAll(emails);
      const hashes = [...byHash.keys()];
      await lockEmailHashes(trx, hashes);
      // A separate statement: under READ COMMITTED a statement sees what was committed when it
      // started, so a check in the locking statement would miss an erasure it waited for.
      return emailsOf(byHash, await findSuppressedHashes(trx, hashes));
    },
    async suppress(executor, email, reason) {
      await insertSuppression(executor, hash(email), reason);
    },
  };
}
