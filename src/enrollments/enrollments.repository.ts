import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, EnrollmentStatus, EnrollmentsTable } from '../platform/db/schema.js';

type Db = Kysely<Database>;
export type EnrollmentRow = Selectable<EnrollmentsTable>;

/** Null when the lead already has an active enrollment in the sequence. */
export async function insertEnrollment(db: Db, input: { leadId: string; sequenceId: string; version: number; firstStep: string }): Promise<EnrollmentRow | null> {
  const row = await db
    .insertInto('enrollments')
    .values({ lead_id: input.leadId, sequence_id: input.sequenceId, sequence_version: input.version, current_step: input.firstStep })
    .onConflict((oc) => oc.columns(['lead_id', 'sequence_id']).where('status', '=', 'active').doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

export async function findEnrollment(db: Db, id: string): Promise<EnrollmentRow | undefined> {
  return db.selectFrom('enrollments').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function lastEnrollment(db: Db, leadId: string, sequenceId: string): Promise<EnrollmentRow | undefined> {
  return db.selectFrom('enrollments').selectAll().where('lead_id', '=', leadId).where('sequence_id', '=', sequenceId).orderBy('entered_at', 'desc').limit(1).executeTakeFirst();
}

/** Moves an active enrollment from one step to the next; false if it was not at `from` any more. */
export async function moveToStep(db: Db, id: string, from: string, to: string): Promise<boolean> {
  const row = await db
    .updateTable('enrollments')
    .set({ current_step: to, step_entered_at: sql`now()` })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .where('current_step', '=', from)
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

export async function endEnrollment(db: Db, id: string, status: Exclude<EnrollmentStatus, 'active'>, reason: string): Promise<void> {
  await db.updateTable('enrollments').set({ status, exit_reason: reason, ended_at: sql`now()` }).where('id', '=', id).where('status', '=', 'active').execute();
}

export interface StepEngagementRow {
  step_id: string;
  sent_at: Date | null;
  type: string | null;
  occurred_at: Date | null;
}

/** For each email step of the enrollment: when it was sent, and its human opens and clicks. */
export async function engagementOf(db: Db, enrollmentId: string): Promise<StepEngagementRow[]> {
  const { rows } = await sql<StepEngagementRow>`
    select s.step_id, s.finished_at as sent_at, e.type, e.occurred_at
    from sends s
    left join events e on e.lead_id = s.lead_id
      and e.type in ('email_opened', 'email_clicked')
      and e.properties->>'sendId' = s.id::text
      and coalesce((e.properties->>'machine')::boolean, false) = false
    where s.enrollment_id = ${enrollmentId} and s.status = 'sent'`.execute(db);
  return rows;
}

/** Whether an event of this type (with these properties) happened for the lead since `since`. */
export async function eventHappened(db: Db, leadId: string, type: string, where: Record<string, unknown> | undefined, since: Date): Promise<boolean> {
  const filter = JSON.stringify(where ?? {});
  const row = await db
    .selectFrom('events')
    .select('id')
    .where('lead_id', '=', leadId)
    .where('type', '=', type)
    .where('occurred_at', '>=', since)
    .where(sql<boolean>`properties @> ${filter}::jsonb`)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}
