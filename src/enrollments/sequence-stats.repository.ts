import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';

/*
 * Per-step results of a sequence, counted from the step log, the send ledger, enrollment ends
 * and tracked events. Opens and clicks count emails opened or clicked by a person at least once;
 * machine traffic (privacy proxies, link scanners) is counted apart and never as engagement.
 */

export interface StepCounts {
  entered: number;
  /** Enrollments at this step now. */
  active: number;
  sent: number;
  bounced: number;
  /** Sends whose outcome is unknown (the process died mid-send); never resent. */
  unknown: number;
  humanOpens: number;
  humanClicks: number;
  machineOpens: number;
  machineClicks: number;
  unsubscribed: number;
  exited: number;
  converted: number;
  completed: number;
  parked: number;
}

export const EMPTY_COUNTS: StepCounts = {
  entered: 0, active: 0, sent: 0, bounced: 0, unknown: 0, humanOpens: 0, humanClicks: 0, machineOpens: 0, machineClicks: 0,
  unsubscribed: 0, exited: 0, converted: 0, completed: 0, parked: 0,
};

type Db = Kysely<Database>;
type Row = { step_id: string } & Record<string, string | number | null>;

/** Counts by step id for one sequence; steps with no activity are absent. */
export async function stepCounts(db: Db, sequenceId: string): Promise<Map<string, StepCounts>> {
  const [entered, ends, sends, engagement] = await Promise.all([
    sql<Row>`select step_id, count(*) as entered from enrollment_steps where sequence_id = ${sequenceId} group by step_id`.execute(db),
    sql<Row>`
      select current_step as step_id,
        count(*) filter (where status = 'active') as active,
        count(*) filter (where status = 'exited') as exited,
        count(*) filter (where status = 'converted') as converted,
        count(*) filter (where status = 'completed') as completed,
        count(*) filter (where status = 'parked') as parked
      from enrollments where sequence_id = ${sequenceId} and current_step is not null group by current_step`.execute(db),
    sql<Row>`
      select s.step_id,
        count(*) filter (where s.status = 'sent') as sent,
        count(*) filter (where s.outcome = 'hard_bounce') as bounced,
        count(*) filter (where s.status = 'unknown') as unknown
      from sends s join enrollments e on e.id = s.enrollment_id
      where e.sequence_id = ${sequenceId} group by s.step_id`.execute(db),
    sql<Row>`
      select s.step_id,
        count(distinct s.id) filter (where ev.type = 'email_opened' and not coalesce((ev.properties->>'machine')::boolean, false)) as "humanOpens",
        count(distinct s.id) filter (where ev.type = 'email_clicked' and not coalesce((ev.properties->>'machine')::boolean, false)) as "humanClicks",
        count(distinct s.id) filter (where ev.type = 'email_opened' and coalesce((ev.properties->>'machine')::boolean, false)) as "machineOpens",
        count(distinct s.id) filter (where ev.type = 'email_clicked' and coalesce((ev.properties->>'machine')::boolean, false)) as "machineClicks",
        count(distinct s.id) filter (where ev.type = 'unsubscribed') as unsubscribed
      from sends s
      join enrollments e on e.id = s.enrollment_id
      join events ev on (ev.properties->>'sendId') = s.id::text and ev.lead_id = s.lead_id
      where e.sequence_id = ${sequenceId} and ev.type in ('email_opened', 'email_clicked', 'unsubscribed')
      group by s.step_id`.execute(db),
  ]);
  const counts = new Map<string, StepCounts>();
  for (const { rows } of [entered, ends, sends, engagement]) {
    for (const row of rows) {
      const current = counts.get(row.step_id) ?? { ...EMPTY_COUNTS };
      for (const [key, value] of Object.entries(row)) if (key !== 'step_id' && key in current) current[key as keyof StepCounts] = Number(value);
      counts.set(row.step_id, current);
    }
  }
  return counts;
}

/** Enrollments of the sequence by status, and how many entered at all. */
export async function enrollmentTotals(db: Db, sequenceId: string): Promise<Record<string, number>> {
  const { rows } = await sql<{ status: string; count: string }>`select status, count(*) as count from enrollments where sequence_id = ${sequenceId} group by status`.execute(db);
  const totals: Record<string, number> = { entered: 0, active: 0, completed: 0, converted: 0, exited: 0, parked: 0 };
  for (const row of rows) {
    totals[row.status] = Number(row.count);
    totals.entered = (totals.entered ?? 0) + Number(row.count);
  }
  return totals;
}
