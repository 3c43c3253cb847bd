import { sql, type Kysely } from 'kysely';
import { HOLDOUT_STEP_ID, type HoldoutArm } from '../experiments/assignment.js';
import type { Database } from '../platform/db/schema.js';

/*
 * The engine's reads and writes of experiment assignments (migration 0014): the arm a lead took
 * at a split, and whether it is held out of a sequence. The first decision is written and kept;
 * results (src/experiments) count these rows. Plain SQL: the tables belong to the experiments
 * module, whose typed schema the engine does not depend on.
 */

type Db = Kysely<Database>;

/** The arm stored for (lead, sequence, step), null when the lead never reached that split. */
export async function storedArm(db: Db, leadId: string, sequenceId: string, stepId: string): Promise<string | null> {
  const { rows } = await sql<{ arm_id: string }>`
    select arm_id from experiment_assignments where lead_id = ${leadId} and sequence_id = ${sequenceId} and step_id = ${stepId}`.execute(db);
  return rows[0]?.arm_id ?? null;
}

/** The arm a split's winner rule chose, null while none was recorded. */
export async function winningArm(db: Db, sequenceId: string, stepId: string): Promise<string | null> {
  const { rows } = await sql<{ arm_id: string }>`select arm_id from experiment_winners where sequence_id = ${sequenceId} and step_id = ${stepId}`.execute(db);
  return rows[0]?.arm_id ?? null;
}

/**
 * Records an assignment. `replace`: the stored arm is gone from the edited file, so the new one
 * takes its place; otherwise a row already there wins (a first decision is kept for good).
 */
export async function recordAssignment(
  db: Db,
  row: { leadId: string; sequenceId: string; stepId: string; armId: string; enrollmentId: string; at: Date },
  replace: boolean,
): Promise<void> {
  const values = sql`(${row.leadId}, ${row.sequenceId}, ${row.stepId}, ${row.armId}, ${row.enrollmentId}, ${row.at})`;
  if (replace) {
    await sql`insert into experiment_assignments (lead_id, sequence_id, step_id, arm_id, enrollment_id, assigned_at) values ${values}
      on conflict (lead_id, sequence_id, step_id) do update set arm_id = excluded.arm_id, enrollment_id = excluded.enrollment_id, assigned_at = excluded.assigned_at`.execute(
      db,
    );
  } else {
    await sql`insert into experiment_assignments (lead_id, sequence_id, step_id, arm_id, enrollment_id, assigned_at) values ${values}
      on conflict (lead_id, sequence_id, step_id) do nothing`.execute(db);
  }
}

/** The holdout decision stored for a lead and sequence. */
export async function storedHoldout(db: Db, leadId: string, sequenceId: string): Promise<HoldoutArm | null> {
  const arm = await storedArm(db, leadId, sequenceId, HOLDOUT_STEP_ID);
  return arm === 'holdout' || arm === 'treatment' ? arm : null;
}

/** Of these enrollments' (lead, sequence) pairs, the ones held out, as `lead\u0000sequence` keys. */
export async function heldOutPairs(db: Db, pairs: Array<{ leadId: string; sequenceId: string }>): Promise<Set<string>> {
  if (pairs.length === 0) return new Set();
  const { rows } = await sql<{ lead_id: string; sequence_id: string }>`
    select a.lead_id, a.sequence_id from experiment_assignments a
    join unnest(${pairs.map((pair) => pair.leadId)}::uuid[], ${pairs.map((pair) => pair.sequenceId)}::text[]) as p(lead_id, sequence_id)
      on a.lead_id = p.lead_id and a.sequence_id = p.sequence_id
    where a.step_id = ${HOLDOUT_STEP_ID} and a.arm_id = 'holdout'`.execute(db);
  return new Set(rows.map((row) => heldOutKey(row.lead_id, row.sequence_id)));
}

export function heldOutKey(leadId: string, sequenceId: string): string {
  return `${leadId}\u0000${sequenceId}`;
}
