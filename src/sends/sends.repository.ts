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
  /** The process claiming it (its Agenda name), for the record. */
  claimedBy?: string;
}

/** Failed sends that may be claimed again: nothing was delivered, and trying again may succeed. */
const RETRYABLE_OUTCOMES = ['retry', 'soft_bounce', 'throttle', 'not_sent'];

/**
 * Claims older than `olderThan` that never got their SMTP answer: their process died. One handed
 * to SMTP may or may not have gone out, and sending it again could send it twice: it becomes
 * `unknown` (reported, never resent). One never handed over did not go out: it becomes a failed
 * `not_sent`, which the next attempt claims again.
 */
export async function markInterruptedSends(db: Db, olderThan: Date): Promise<number> {
  const result = await sql`
    update sends set finished_at = now(),
      status = case when handed_at is null then 'failed' else 'unknown' end,
      outcome = case when handed_at is null then 'not_sent' else 'interrupted' end
    where status = 'claimed' and claimed_at < ${olderThan}`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** A claimed send about to be handed to SMTP: its lead, and the hash of the address it goes to. */
export interface HandOver {
  id: string;
  leadId: string;
  emailHash: string;
}

/** What became of a send at hand-over: handed to SMTP, or not sent, and why. */
export type HandOverVerdict = 'handed' | 'unsubscribed' | 'suppressed';

/**
 * Sends about to go over SMTP: from now on, a crash leaves them `unknown` rather than unsent.
 * One statement re-checks the opt-out and suppression as they stand now, under a share lock on
 * each lead's row: an unsubscribe (which updates that row) either committed first, and its
 * sends are recorded `skipped` with the reason, or waits until this statement commits, and then
 * waits for their SMTP answers (subscriptions.service.ts). Only claims still held by `worker`
 * change: one taken over meanwhile (this worker stalled past its lease) belongs to the worker
 * that took it, and must not be sent from here as well; it is absent from the result, as is a
 * send whose lead was erased (its ledger row went with it).
 */
export async function markHandedOver(db: Db, sends: HandOver[], worker: string | null): Promise<Map<string, HandOverVerdict>> {
  if (sends.length === 0) return new Map();
  // Locking reads see the newest committed version of a row they waited for, so an unsubscribe
  // that committed while this waited is seen here.
  const statement = sql<{ id: string; outcome: string | null; status: SendStatus }>`
    with live as (
      select l.id, l.unsubscribed_at from leads l where l.id = any(${sends.map((send) => send.leadId)}::uuid[]) order by l.id for share
    ), verdicts as (
      select r.id, case
          when l.unsubscribed_at is not null then 'unsubscribed'
          when exists (select 1 from suppressions x where x.email_hash = r.email_hash) then 'suppressed'
        end as reason
      from unnest(${sends.map((send) => send.id)}::uuid[], ${sends.map((send) => send.leadId)}::uuid[], ${sends.map((send) => send.emailHash)}::text[]) as r(id, lead_id, email_hash)
      join live l on l.id = r.lead_id
    )
    update sends s set
      handed_at = case when v.reason is null then now() end,
      status = case when v.reason is null then s.status else 'skipped' end,
      outcome = coalesce(v.reason, s.outcome),
      finished_at = case when v.reason is null then s.finished_at else now() end
    from verdicts v
    where s.id = v.id and s.status = 'claimed' and s.claimed_by is not distinct from ${worker}
    returning s.id, s.status, s.outcome`;
  // A write that locks several of these leads in another order (an import batch) can deadlock
  // with the share locks; PostgreSQL cancels one side, and the statement is simply run again.
  for (let attempt = 1; ; attempt += 1) {
    try {
      const { rows } = await statement.execute(db);
      return new Map(rows.map((row) => [row.id, row.status === 'skipped' ? (row.outcome === 'suppressed' ? 'suppressed' : 'unsubscribed') : 'handed']));
    } catch (error) {
      const deadlocked = typeof error === 'object' && error !== null && 'code' in error && error.code === '40P01';
      if (attempt >= 3 || !deadlocked) throw error;
    }
  }
}

/** Sends of this lead handed to SMTP since `since` and not answered yet: they may still reach the server. */
export async function countUnansweredHandedSends(db: Db, leadId: string, since: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    select count(*)::int as n from sends
    where lead_id = ${leadId} and claimed_at > ${since} and status = 'claimed' and handed_at is not null`.execute(db);
  return rows[0]?.n ?? 0;
}

/** The same for given claims, known to be abandoned: only those still `claimed` change. */
export async function markSendsInterrupted(db: Db, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('sends')
    .set({ status: 'unknown', outcome: 'interrupted', finished_at: sql`now()` })
    .where('id', 'in', ids)
    .where('status', '=', 'claimed')
    .execute();
}

/**
 * Takes the ledger rows for (enrollment, step) pairs, in three statements for the whole batch.
 * Exactly one caller gets `claimed: true` for a pair; every other (a re-run, a second worker)
 * gets the row as it stands. A failed, retryable send is claimed again atomically, so two retries
 * cannot both go; so is a claim made before `takeOverBefore` and never handed to SMTP (its worker
 * died before sending). Results by `${enrollmentId}:${stepId}`; a pair given twice is claimed once.
 */
export async function claimSends(db: Db, claims: SendClaim[], takeOverBefore?: Date): Promise<Map<string, { claimed: boolean; row: SendRow }>> {
  const result = new Map<string, { claimed: boolean; row: SendRow }>();
  if (claims.length === 0) return result;
  const key = (row: { enrollment_id: string; step_id: string }) => `${row.enrollment_id}:${row.step_id}`;
  const { rows: inserted } = await sql<SendRow>`
    insert into sends (enrollment_id, step_id, lead_id, template, message_id, marketing, claimed_by)
    select * from unnest(${claims.map((c) => c.enrollmentId)}::uuid[], ${claims.map((c) => c.stepId)}::text[], ${claims.map((c) => c.leadId)}::uuid[],
                         ${claims.map((c) => c.template)}::text[], ${claims.map((c) => c.messageId)}::text[], ${claims.map((c) => c.marketing)}::boolean[],
                         ${claims.map((c) => c.claimedBy ?? null)}::text[])
    on conflict (enrollment_id, step_id) do nothing
    returning *`.execute(db);
  for (const row of inserted) result.set(key(row), { claimed: true, row });
  const rest = claims.filter((c) => !result.has(`${c.enrollmentId}:${c.stepId}`));
  if (rest.length === 0) return result;
  const { rows: retried } = await sql<SendRow>`
    update sends s set status = 'claimed', finished_at = null, claimed_by = r.claimed_by,
      -- A retry is a new attempt: its claim time is now (the crash sweep, the unsubscribe wait and
      -- the lease all measure from it; retries now wait up to hours), and it has not been handed over.
      claimed_at = now(), handed_at = null
    from unnest(${rest.map((c) => c.enrollmentId)}::uuid[], ${rest.map((c) => c.stepId)}::text[], ${rest.map((c) => c.claimedBy ?? null)}::text[]) as r(enrollment_id, step_id, claimed_by)
    where s.enrollment_id = r.enrollment_id and s.step_id = r.step_id
      and ((s.status = 'failed' and s.outcome = any(${RETRYABLE_OUTCOMES}::text[]))
        or (s.status = 'claimed' and s.handed_at is null and s.claimed_at < ${takeOverBefore ?? new Date(0)}))
    returning s.*`.execute(db);
  for (const row of retried) result.set(key(row), { claimed: true, row });
  const existing = rest.filter((c) => !result.has(`${c.enrollmentId}:${c.stepId}`));
  if (existing.length === 0) return result;
  const { rows } = await sql<SendRow>`
    select s.* from sends s
    join unnest(${existing.map((c) => c.enrollmentId)}::uuid[], ${existing.map((c) => c.stepId)}::text[]) as r(enrollment_id, step_id)
      on s.enrollment_id = r.enrollment_id and s.step_id = r.step_id`.execute(db);
  for (const row of rows) if (!result.has(key(row))) result.set(key(row), { claimed: false, row });
  return result;
}

/** finishSend for a batch: one statement. */
export async function finishSends(db: Db, results: Array<{ id: string; status: SendStatus; outcome: string; smtpResponse: string | null }>): Promise<void> {
  if (results.length === 0) return;
  await sql`
    update sends s set status = r.status, outcome = r.outcome, smtp_response = r.smtp_response, finished_at = now()
    from unnest(${results.map((r) => r.id)}::uuid[], ${results.map((r) => r.status)}::text[], ${results.map((r) => r.outcome)}::text[],
                ${results.map((r) => r.smtpResponse?.slice(0, 1000) ?? null)}::text[]) as r(id, status, outcome, smtp_response)
    where s.id = r.id`.execute(db);
}

/** lockLeadSends for several leads, always in the same order, so that two batches cannot deadlock. */
export async function lockLeadsSends(db: Db, leadIds: string[]): Promise<void> {
  const ids = [...new Set(leadIds)].sort();
  if (ids.length === 0) return;
  // offset 0 keeps the sort below the lock calls: the locks are taken in that order.
  await sql`select pg_advisory_xact_lock(hashtext('baton-lead-sends'), hashtext(id))
    from (select id from unnest(${ids}::text[]) as id order by id offset 0) as sorted`.execute(db);
}

/** The marketing sends of these leads claimed since `since`, for the frequency cap. */
export async function recentMarketingSendsOf(
  db: Db,
  leadIds: string[],
  since: Date,
): Promise<Array<{ lead_id: string; enrollment_id: string; step_id: string; claimed_at: Date }>> {
  if (leadIds.length === 0) return [];
  return db
    .selectFrom('sends')
    .select(['lead_id', 'enrollment_id', 'step_id', 'claimed_at'])
    .where('lead_id', 'in', [...new Set(leadIds)])
    .where('marketing', '=', true)
    .where('claimed_at', '>', since)
    .where('status', 'in', ['claimed', 'sent', 'unknown'])
    .execute();
}
