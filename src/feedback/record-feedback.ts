import type { Kysely } from 'kysely';
import { insertEvents, type NewEvent } from '../events/events.repository.js';
import { markUnsubscribed } from '../leads/leads.repository.js';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import type { DeliveryFeedback } from './delivery-feedback.js';
import { consecutiveSoftBounces, findFeedbackSend, insertFeedback } from './feedback.repository.js';

/*
 * The one place where feedback about a send changes anything: every source (DSN, ARF, plain
 * bounce, mailto unsubscribe, ESP webhooks) ends here. One transaction: the feedback row (unique
 * per send and kind, so a repeated report records nothing), the lead's event, the suppression and
 * the opt-out all happen, or none does.
 */

export interface FeedbackRecorderDeps {
  db: Kysely<Database>;
  suppression: SuppressionService;
  logger?: Logger;
  /** N consecutive soft-bounced sends suppress the address (BATON_SOFT_BOUNCE_LIMIT); 0 never. */
  softBounceLimit: number;
}

export type FeedbackOutcome =
  | { kind: 'recorded'; leadId: string; suppressed: boolean; unsubscribed: boolean }
  | { kind: 'duplicate'; leadId: string }
  /** No such send (never existed, or erased with its lead): nothing to do. */
  | { kind: 'unknown_send' };

export async function recordDeliveryFeedback(deps: FeedbackRecorderDeps, feedback: DeliveryFeedback, now: Date): Promise<FeedbackOutcome> {
  const outcome = await deps.db.transaction().execute(async (trx): Promise<FeedbackOutcome> => {
    const send = await findFeedbackSend(trx, feedback.sendId);
    if (!send) return { kind: 'unknown_send' };
    // Serialises with an erasure or an import of the same address (suppression.service.ts).
    await deps.suppression.lockAddresses(trx, [send.email]);
    const domain = send.email.slice(send.email.lastIndexOf('@') + 1).toLowerCase();
    if (!(await insertFeedback(trx, feedback, send, domain))) return { kind: 'duplicate', leadId: send.leadId };

    const about = { sendId: send.sendId, sequenceId: send.sequenceId, stepId: send.stepId, template: send.template, source: feedback.source };
    const events: NewEvent[] = [];
    let suppressed = false;
    let unsubscribeReason: string | null = null;
    switch (feedback.kind) {
      case 'hard_bounce':
        events.push({
          leadId: send.leadId,
          type: 'email_bounced',
          occurredAt: now,
          properties: { ...about, bounce: 'hard', status: feedback.status, reason: feedback.diagnostic ?? '' },
        });
        await deps.suppression.suppress(trx, send.email, 'hard_bounce');
        suppressed = true;
        unsubscribeReason = 'hard_bounce';
        break;
      case 'soft_bounce': {
        events.push({
          leadId: send.leadId,
          type: 'email_bounced',
          occurredAt: now,
          properties: { ...about, bounce: 'soft', status: feedback.status, reason: feedback.diagnostic ?? '' },
        });
        const limit = deps.softBounceLimit;
        if (limit > 0 && (await consecutiveSoftBounces(trx, send.leadId, limit)) >= limit) {
          await deps.suppression.suppress(trx, send.email, 'soft_bounces');
          suppressed = true;
          unsubscribeReason = 'soft_bounces';
        }
        break;
      }
      case 'complaint':
        events.push({ leadId: send.leadId, type: 'email_complained', occurredAt: now, properties: { ...about, feedbackType: feedback.diagnostic ?? 'abuse' } });
        await deps.suppression.suppress(trx, send.email, 'complaint');
        suppressed = true;
        unsubscribeReason = 'complaint';
        break;
      case 'unsubscribe':
        unsubscribeReason = 'mailto';
        break;
      default: {
        const unexpected: never = feedback.kind;
        throw new Error(`unknown feedback kind ${String(unexpected)}`);
      }
    }
    let unsubscribed = false;
    if (unsubscribeReason) {
      const marked = await markUnsubscribed(trx, send.leadId);
      unsubscribed = marked?.changed ?? false;
      if (unsubscribed)
        events.push({ leadId: send.leadId, type: 'unsubscribed', occurredAt: now, properties: { source: unsubscribeReason, sendId: send.sendId } });
    }
    await insertEvents(trx, events);
    return { kind: 'recorded', leadId: send.leadId, suppressed, unsubscribed };
  });
  deps.logger?.info(
    { sendId: feedback.sendId, feedback: feedback.kind, status: feedback.status, source: feedback.source, outcome: outcome.kind },
    'delivery feedback',
  );
  return outcome;
}
