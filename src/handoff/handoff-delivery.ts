import type { Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import { webhookRetryDelayMs } from '../webhooks/webhook-outcome.js';
import type { Briefing } from './briefing.js';
import type { HandoffNotifier } from './handoff-notifier.js';
import { findHandoff, finishNotification, type takeDueNotifications } from './handoff.repository.js';
import type { Rep } from './sales-team.js';

/*
 * The handoff's notifications: who is told of an assignment or a reminder (the outbox rows the
 * handoff transaction queues), and sending one row, with retries, once it is due.
 */

export interface DeliveryDeps {
  db: Kysely<Database>;
  notifier: HandoffNotifier;
  logger: Logger;
  repById: ReadonlyMap<string, Rep>;
  /** Extra receivers of every assignment (BATON_HANDOFF_WEBHOOKS). */
  webhooks: Array<{ url: string; format: 'standard' | 'slack' }>;
}

type DueNotification = Awaited<ReturnType<typeof takeDueNotifications>>[number];

export function handoffDelivery(deps: DeliveryDeps) {
  const { db, repById } = deps;

  function notificationsFor(rep: Rep, handoffId: string, kind: 'assigned' | 'reminder') {
    const rows: Array<{ handoffId: string; kind: 'assigned' | 'reminder'; channel: 'email' | 'slack' | 'webhook'; target: string; repId: string }> = [
      { handoffId, kind, channel: 'email', target: rep.email, repId: rep.id },
    ];
    if (rep.slackWebhookUrl) rows.push({ handoffId, kind, channel: 'slack', target: rep.slackWebhookUrl, repId: rep.id });
    // Team-wide receivers hear of new assignments, not of each reminder.
    if (kind === 'assigned')
      for (const hook of deps.webhooks) rows.push({ handoffId, kind, channel: hook.format === 'slack' ? 'slack' : 'webhook', target: hook.url, repId: rep.id });
    return rows;
  }

  async function deliver(note: DueNotification, now: Date): Promise<void> {
    const row = await findHandoff(db, note.handoff_id);
    if (!row) return finishNotification(db, note.id, { status: 'failed', error: 'the handoff is gone (lead erased)' }, now);
    // What the rep was to be told no longer holds: answered meanwhile, or reassigned to another rep.
    // Team-wide webhooks still hear of every assignment.
    const toRep = note.channel === 'email' || note.target === repById.get(note.rep_id)?.slackWebhookUrl;
    if (toRep && (row.status !== 'pending' || row.rep_id !== note.rep_id)) {
      return finishNotification(
        db,
        note.id,
        { status: 'failed', error: `not sent: the handoff is ${row.status === 'pending' ? `now with ${row.rep_id}` : row.status}` },
        now,
      );
    }
    try {
      const outcome = await deps.notifier.send({
        id: `handoff_${note.id}`,
        kind: note.kind,
        channel: note.channel,
        target: note.target,
        handoff: {
          id: row.id,
          leadId: row.lead_id,
          status: row.status,
          repId: row.rep_id,
          createdAt: row.created_at.toISOString(),
          assignedAt: row.assigned_at.toISOString(),
        },
        briefing: row.briefing as unknown as Briefing,
        now,
      });
      if (outcome.kind === 'sent') return finishNotification(db, note.id, { status: 'sent' }, now);
      if (outcome.kind === 'failed') {
        deps.logger.warn({ handoffId: row.id, channel: note.channel, reason: outcome.reason }, 'a handoff notification failed for good');
        return finishNotification(db, note.id, { status: 'failed', error: outcome.reason }, now);
      }
      const delay = outcome.retryAfterMs ?? webhookRetryDelayMs(note.attempts + 1);
      if (delay === null)
        return finishNotification(db, note.id, { status: 'failed', error: `gave up after ${note.attempts + 1} attempts: ${outcome.reason}` }, now);
      return finishNotification(db, note.id, { status: 'pending', retryAt: new Date(now.getTime() + delay), error: outcome.reason }, now);
    } catch (error) {
      deps.logger.error({ err: error, handoffId: row.id, channel: note.channel }, 'sending a handoff notification threw');
      const delay = webhookRetryDelayMs(note.attempts + 1);
      return finishNotification(
        db,
        note.id,
        delay === null ? { status: 'failed', error: String(error) } : { status: 'pending', retryAt: new Date(now.getTime() + delay), error: String(error) },
        now,
      );
    }
  }

  return { notificationsFor, deliver };
}

/** Webhook and Slack URLs are credentials: where, not the whole URL. */
export function maskUrl(url: string): string {
  return URL.canParse(url) ? `${new URL(url).origin}/…` : '…';
}
