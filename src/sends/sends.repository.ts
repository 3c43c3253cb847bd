import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, SendStatus, SendsTable } from '../platform/db/schema.js';

type Db = Kysely<Database>;
export type SendRow = Selectable<SendsTable>;

export interface SendClaim {
  enrollmentId: string;
  stepId: string;
  leadId: string;
  template: string;
  messageId: string;
  /** Marketing email counts against the frequency cap; transactional does not. */
  marketing: boolean;
}

/**
 * Takes the ledger row for (enrollment, step). Exactly one caller gets `claimed: true`; every
 * other (a re-run job, a second worker) gets the row as it stands. A failed, retryable send is
 * claimed again atomically, so two retries cannot both go.
 */
export async function claimSend(db: Db, claim: SendClaim): Promise<{ claimed: true; row: SendRow } | { claimed: false; row: SendRow }> {
  const inserted = await db
    .insertInto('sends')
    .values({ enrollment_id: claim.enrollmentId, step_id: claim.stepId, lead_id: claim.leadId, template: claim.template, message_id: claim.messageId, marketing: claim.marketing })
    .onConflict((oc) => oc.columns(['enrollment_id', 'step_id']).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { claimed: true, row: inserted };
  const retried = await db
    .updateTable('sends')
    .set({ status: 'claimed', finished_at: null })
    .where('enrollment_id', '=', claim.enrollmentId)
    .where('step_id', '=', claim.stepId)
    .where('status', '=', 'failed')
    .where('outcome', 'in', ['retry', 'soft_bounce', 'throttle'])
    .returningAll()
    .executeTakeFirst();
  if (retried) return { claimed: true, row: retried };
  const existing = await db.selectFrom('sends').selectAll().where('enrollment_id', '=', claim.enrollmentId).where('step_id', '=', claim.stepId).executeTakeFirstOrThrow();
  return { claimed: false, row: existing };
}

export async function finishSend(db: Db, id: string, result: { status: SendStatus; outcome: string; smtpResponse: string | null }): Promise<void> {
  await db
    .updateTable('sends')
    .set({ status: result.status, outcome: result.outcome, smtp_response: result.smtpResponse?.slice(0, 1000) ?? null, finished_at: sql`now()` })
    .where('id', '=', id)
    .execute();
}

/**
 * Claims older than `olderThan` whose process died between the claim and the SMTP answer. The
 * message may or may not have gone out, and sending it again could send it twice: they become
 * `unknown` (reported, never resent), and their enrollments move on.
 */
export async function markInterruptedSends(db: Db, olderThan: Date): Promise<number> {
  const result = await db
    .updateTable('sends')
    .set({ status: 'unknown', outcome: 'interrupted', finished_at: sql`now()` })
    .where('status', '=', 'claimed')
    .where('claimed_at', '<', olderThan)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Serialises the frequency-cap check and the ledger claim of one lead's emails across workers. */
export async function lockLeadSends(db: Db, leadId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('baton-lead-sends'), hashtext(${leadId}))`.execute(db);
}

/** When the lead's marketing emails since `since` were claimed, the (enrollment, step) asking excluded. */
export async function recentMarketingSends(db: Db, leadId: string, since: Date, except: { enrollmentId: string; stepId: string }): Promise<Date[]> {
  const rows = await db
    .selectFrom('sends')
    .select('claimed_at')
    .where('lead_id', '=', leadId)
    .where('marketing', '=', true)
    .where('claimed_at', '>', since)
    .where('status', 'in', ['claimed', 'sent', 'unknown'])
    .where((eb) => eb.or([eb('enrollment_id', '!=', except.enrollmentId), eb('step_id', '!=', except.stepId)]))
    .execute();
  return rows.map((row) => row.claimed_at);
}
