import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { DeliveryFeedback } from './delivery-feedback.js';

/*
 * SQL of delivery feedback (migration 0017). Raw statements: the table is this folder's alone,
 * so the shared Kysely schema stays untouched.
 */

type Db = Kysely<Database>;

export interface FeedbackSend {
  sendId: string;
  leadId: string;
  email: string;
  sequenceId: string;
  stepId: string;
  template: string;
}

export async function findFeedbackSend(db: Db, sendId: string): Promise<FeedbackSend | null> {
  const { rows } = await sql<{ send_id: string; lead_id: string; email: string; sequence_id: string; step_id: string; template: string }>`
    select s.id as send_id, s.lead_id, l.email, e.sequence_id, s.step_id, s.template
    from sends s join leads l on l.id = s.lead_id join enrollments e on e.id = s.enrollment_id
    where s.id = ${sendId}::uuid`.execute(db);
  const row = rows[0];
  return row ? { sendId: row.send_id, leadId: row.lead_id, email: row.email, sequenceId: row.sequence_id, stepId: row.step_id, template: row.template } : null;
}

/** The send whose Message-ID this is (deterministic per send, see email-delivery.ts), if any. */
export async function findSendIdByMessageId(db: Db, messageId: string): Promise<string | null> {
  const { rows } = await sql<{ id: string }>`select id from sends where message_id = ${messageId} limit 1`.execute(db);
  return rows[0]?.id ?? null;
}

/** True when this (send, kind) is new; false when it was recorded before (a repeated report). */
export async function insertFeedback(db: Db, feedback: DeliveryFeedback, send: FeedbackSend, recipientDomain: string): Promise<boolean> {
  const { rows } = await sql<{ id: string }>`
    insert into delivery_feedback (send_id, lead_id, kind, status, diagnostic, source, recipient_domain)
    values (${feedback.sendId}::uuid, ${send.leadId}::uuid, ${feedback.kind}, ${feedback.status?.slice(0, 50) ?? null},
            ${feedback.diagnostic?.slice(0, 1000) ?? null}, ${feedback.source}, ${recipientDomain})
    on conflict (send_id, kind) do nothing
    returning id`.execute(db);
  return rows.length > 0;
}

/**
 * How many of the lead's latest finished sends, newest first and without a break, soft-bounced:
 * late (a soft bounce in delivery_feedback) or during the SMTP conversation (ledger outcome).
 * Looks at `limit` sends at most; a delivered send in between breaks the run.
 */
export async function consecutiveSoftBounces(db: Db, leadId: string, limit: number): Promise<number> {
  const { rows } = await sql<{ soft: boolean }>`
    select (s.outcome = 'soft_bounce' or exists (
              select 1 from delivery_feedback f where f.send_id = s.id and f.kind = 'soft_bounce')) as soft
    from sends s
    where s.lead_id = ${leadId}::uuid and s.status in ('sent', 'failed')
    order by s.claimed_at desc
    limit ${limit}`.execute(db);
  let run = 0;
  for (const row of rows) {
    if (!row.soft) break;
    run += 1;
  }
  return run;
}
