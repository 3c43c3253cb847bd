import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';

/*
 * The email queue (migration 0007): one row per enrollment waiting at an email step, due at a
 * time. Workers lease due rows in batches; a lease that runs out (its worker died) makes the rows
 * due again, and the send ledger makes sure that taking a row twice never sends twice.
 */

type Db = Kysely<Database>;

export interface QueuedEmail {
  enrollmentId: string;
  stepId: string;
}

/** Puts enrollments at their email step in the queue, due at `dueAt`; replaces a row for an earlier step. */
export async function enqueueEmails(db: Db, rows: Array<QueuedEmail & { dueAt: Date }>): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into email_queue (enrollment_id, step_id, due_at)
    select * from unnest(${rows.map((row) => row.enrollmentId)}::uuid[], ${rows.map((row) => row.stepId)}::text[], ${rows.map((row) => row.dueAt)}::timestamptz[])
    on conflict (enrollment_id) do update set step_id = excluded.step_id, due_at = excluded.due_at, leased_by = null, leased_until = null`.execute(db);
}

/** Leases up to `limit` due rows, oldest first, to `worker` for `leaseMs`; rows leased by another live worker are skipped. */
export async function leaseDueEmails(db: Db, worker: string, limit: number, leaseMs: number): Promise<QueuedEmail[]> {
  const { rows } = await sql<{ enrollment_id: string; step_id: string }>`
    update email_queue q set leased_by = ${worker}, leased_until = now() + make_interval(secs => ${leaseMs / 1000})
    from (
      select enrollment_id from email_queue
      where due_at <= now() and (leased_until is null or leased_until < now())
      order by due_at limit ${limit}
      for update skip locked
    ) as due
    where q.enrollment_id = due.enrollment_id
    returning q.enrollment_id, q.step_id`.execute(db);
  return rows.map((row) => ({ enrollmentId: row.enrollment_id, stepId: row.step_id }));
}

/** Due again at a later time (a send window, the frequency cap, a retry), and no longer leased. */
export async function deferEmails(db: Db, rows: Array<QueuedEmail & { dueAt: Date }>): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    update email_queue q set due_at = r.due_at, leased_by = null, leased_until = null
    from unnest(${rows.map((row) => row.enrollmentId)}::uuid[], ${rows.map((row) => row.stepId)}::text[], ${rows.map((row) => row.dueAt)}::timestamptz[]) as r(enrollment_id, step_id, due_at)
    where q.enrollment_id = r.enrollment_id and q.step_id = r.step_id`.execute(db);
}

/** Removes handled rows; a row that has since moved on to another step stays. */
export async function dequeueEmails(db: Db, rows: QueuedEmail[]): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    delete from email_queue q
    using unnest(${rows.map((row) => row.enrollmentId)}::uuid[], ${rows.map((row) => row.stepId)}::text[]) as r(enrollment_id, step_id)
    where q.enrollment_id = r.enrollment_id and q.step_id = r.step_id`.execute(db);
}
