import { sql, type Kysely } from 'kysely';
import type { SmtpOutcome } from '../mail/smtp-replies.js';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { recordDeliveryFeedback, type FeedbackRecorderDeps } from './record-feedback.js';
import { isRetryable, retryDelayMs } from './retry-policy.js';
import type { DomainGate } from './domain-gate.js';
import { domainOf } from './domain-limits.js';

/*
 * The send path's hook into feedback (email-delivery.ts calls `settle` once the ledger has the
 * SMTP answers of a batch): hard bounces go through the one recorder (event, suppression,
 * opt-out), and each retryable failure gets its next attempt time from the policy, or gives up;
 * a soft bounce that gives up is recorded as a soft-bounced send (which may suppress the address
 * after BATON_SOFT_BOUNCE_LIMIT in a row).
 */

export type SmtpDecision = { kind: 'retry_at'; at: Date } | { kind: 'give_up' };

export interface SmtpFeedback {
  settle(results: Array<{ sendId: string; email: string; smtp: SmtpOutcome }>, now: Date): Promise<Map<string, SmtpDecision>>;
}

export function createSmtpFeedback(
  deps: FeedbackRecorderDeps & { softBounceRetriesMs: readonly number[]; domainGate?: DomainGate | null; logger?: Logger },
): SmtpFeedback {
  return {
    async settle(results, now) {
      const decisions = new Map<string, SmtpDecision>();
      // 421 4.7.28, 450 4.2.1: that domain asks us to slow down, for every worker.
      await deps.domainGate?.slowDown(
        deps.db,
        results.filter((result) => result.smtp.kind === 'throttle').map((result) => domainOf(result.email)),
        now,
      );
      const retryable = results.filter((result) => isRetryable(result.smtp.kind));
      const attempts = await countFailedAttempts(
        deps.db,
        retryable.map((result) => result.sendId),
      );
      for (const { sendId, smtp } of results) {
        if (smtp.kind === 'hard_bounce') {
          await recordDeliveryFeedback(
            deps,
            { sendId, kind: 'hard_bounce', status: enhancedStatus(smtp.reason) ?? '5.1.1', diagnostic: smtp.reason, source: 'smtp' },
            now,
          );
          continue;
        }
        if (!isRetryable(smtp.kind)) continue;
        const delay = retryDelayMs(smtp.kind, attempts.get(sendId) ?? 1, deps.softBounceRetriesMs);
        if (delay !== null) {
          decisions.set(sendId, { kind: 'retry_at', at: new Date(now.getTime() + delay) });
          continue;
        }
        decisions.set(sendId, { kind: 'give_up' });
        deps.logger?.warn({ sendId, outcome: smtp.kind, attempts: attempts.get(sendId) }, 'send failed for good after its last retry');
        if (smtp.kind === 'soft_bounce') {
          await recordDeliveryFeedback(
            deps,
            { sendId, kind: 'soft_bounce', status: enhancedStatus(smtp.reason) ?? '4.2.2', diagnostic: smtp.reason, source: 'smtp' },
            now,
          );
        }
      }
      return decisions;
    },
  };
}

/** Counts one more failed attempt for each send; returns the counts after it. */
async function countFailedAttempts(db: Kysely<Database>, sendIds: string[]): Promise<Map<string, number>> {
  if (sendIds.length === 0) return new Map();
  const { rows } = await sql<{ send_id: string; failed_attempts: number }>`
    insert into send_attempts (send_id, failed_attempts)
    select id, 1 from unnest(${sendIds}::uuid[]) as id
    on conflict (send_id) do update set failed_attempts = send_attempts.failed_attempts + 1
    returning send_id, failed_attempts`.execute(db);
  return new Map(rows.map((row) => [row.send_id, row.failed_attempts]));
}

function enhancedStatus(reply: string): string | null {
  return /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1] ?? null;
}
