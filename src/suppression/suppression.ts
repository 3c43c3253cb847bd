import { createHash } from 'node:crypto';

/**
 * The only trace an erased address leaves: SHA-256 of a per-installation salt and the lower-cased
 * address. Enough to refuse the address later, useless for recovering it without the salt.
 */
export function hashEmail(salt: string, email: string): string {
  return createHash('sha256').update(salt).update('\0').update(email.trim().toLowerCase()).digest('hex');
}

/** soft_bounces: BATON_SOFT_BOUNCE_LIMIT consecutive sends soft-bounced (src/feedback). */
export type SuppressionReason = 'erased' | 'hard_bounce' | 'complaint' | 'soft_bounces';
