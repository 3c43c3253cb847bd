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
  entered: 0,
  active: 0,
  sent: 0,
  bounced: 0,
  unknown: 0,
  humanOpens: 0,
  humanClicks: 0,
  machineOpens: 0,
  machineClicks: 0,
  unsubscribed: 0,
  exited: 0,
  converted: 0,
  completed: 0,
  parked: 0,
};

type Db = Kysely<Database>;

type Scope = { sequenceId: string } | { leadId: string };
type ScopedRow = { sequence_id: string; step_id: string } & Record<string, string | number | null>;

/** `e` is the enrollments table in every query below. */
const scopeFilter = (scope: Scope) => ('sequenceId' in scope ? sql`e.sequence_id = ${scope.sequenceId}` : sql`e.lead_id = ${scope.leadId}`);

/** Counts by sequence and step for the enrollments in scope, as query rows. */
async function countSteps(db: Db, scope: Scope): Promise<ScopedRow[]> {
  const where = scopeFilter(scope);
  const [entered, ends, sends, engagement] = await Promise.all([
    // By sequence, the step log alone (indexed on sequence_id); by lead, through its enrollments.
    'sequenceId' in scope
      ? sql<ScopedRow>`select st.sequence_id, st.step_id, count(*) as entered from enrollment_steps st where st.sequence_id = ${scope.sequenceId} group by st.sequence_id, st.step_id`.execute(
          db,
        )
      : sql<ScopedRow>`select st.sequence_id, st.step_id, count(*) as entered from enrollment_steps st join enrollments e on e.id = st.enrollment_id where ${where} group by st.sequence_id, st.step_id`.execute(
          db,
        ),
    sql<ScopedRow>`
      select e.sequence_id, e.current_step as step_id,
        count(*) filter (where e.status = 'active') as active,
        count(*) filter (where e.status = 'exited') as exited,
        count(*) filter (where e.status = 'converted') as converted,
        count(*) filter (where e.status = 'completed') as completed,
        count(*) filter (where e.status = 'parked') as parked
      from enrollments e where ${where} and e.current_step is not null group by e.sequence_id, e.current_step`.execute(db),
    sql<ScopedRow>`
      select e.sequence_id, s.step_id,
        count(*) filter (where s.status = 'sent') as sent,
        count(*) filter (where s.outcome = 'hard_bounce') as bounced,
        count(*) filter (where s.status = 'unknown') as unknown
      from sends s join enrollments e on e.id = s.enrollment_id
      where ${where} group by e.sequence_id, s.step_id`.execute(db),
    sql<ScopedRow>`
      select e.sequence_id, s.step_id,
        count(distinct s.id) filter (where ev.type = 'email_opened' and not coalesce((ev.properties->>'machine')::boolean, false)) as "humanOpens",
        count(distinct s.id) filter (where ev.type = 'email_clicked' and not coalesce((ev.properties->>'machine')::boolean, false)) as "humanClicks",
        count(distinct s.id) filter (where ev.type = 'email_opened' and coalesce((ev.properties->>'machine')::boolean, false)) as "machineOpens",
        count(distinct s.id) filter (where ev.type = 'email_clicked' and coalesce((ev.properties->>'machine')::boolean, false)) as "machineClicks",
        count(distinct s.id) filter (where ev.type = 'unsubscribed') as unsubscribed
      from sends s
      join enrollments e on e.id = s.enrollment_id
      join events ev on (ev.properties->>'sendId') = s.id::text and ev.lead_id = s.lead_id
      where ${where} and ev.type in ('email_opened', 'email_clicked', 'unsubscribed')
      group by e.sequence_id, s.step_id`.execute(db),
  ]);
  return [entered, ends, sends, engagement].flatMap(({ rows }) => rows);
}

/** Folds query rows into counts by sequence, then step. */
function collect(rows: Array<Record<string, string | number | null>>): Map<string, Map<string, StepCounts>> {
  const bySequence = new Map<string, Map<string, StepCounts>>();
  for (const row of rows) {
    const sequenceId = String(row.sequence_id);
    const stepId = String(row.step_id);
    const steps = bySequence.get(sequenceId) ?? new Map<string, StepCounts>();
    const current = steps.get(stepId) ?? { ...EMPTY_COUNTS };
    for (const [key, value] of Object.entries(row)) if (key in current) current[key as keyof StepCounts] += Number(value);
    steps.set(stepId, current);
    bySequence.set(sequenceId, steps);
  }
  return bySequence;
}

// erased_step_counts columns, by StepCounts key ("active" is never kept: see preserveErasedCounts).
const ERASED_COLUMNS = {
  entered: 'entered',
  sent: 'sent',
  bounced: 'bounced',
  unknown: 'unknown',
  humanOpens: 'human_opens',
  humanClicks: 'human_clicks',
  machineOpens: 'machine_opens',
  machineClicks: 'machine_clicks',
  unsubscribed: 'unsubscribed',
  exited: 'exited',
  converted: 'converted',
  completed: 'completed',
  parked: 'parked',
} as const satisfies Partial<Record<keyof StepCounts, string>>;

/** Counts by step id for one sequence, erased leads' included; steps with no activity are absent. */
export async function stepCounts(db: Db, sequenceId: string): Promise<Map<string, StepCounts>> {
  const [live, erased] = await Promise.all([
    countSteps(db, { sequenceId }),
    sql<Record<string, string | number | null>>`
      select sequence_id, step_id, ${sql.join(Object.entries(ERASED_COLUMNS).map(([key, column]) => sql`${sql.ref(column)} as ${sql.ref(key)}`))}
      from erased_step_counts where sequence_id = ${sequenceId}`.execute(db),
  ]);
  return collect([...live, ...erased.rows]).get(sequenceId) ?? new Map();
}

/**
 * Before a lead is erased (in the erasing transaction): adds what it counted for in every
 * sequence to the erased counts, so statistics keep their numbers without the person. An
 * enrollment still active is counted as exited at its step: erasure ended it.
 */
export async function preserveErasedCounts(db: Db, leadId: string): Promise<void> {
  // Rows are upserted in one sorted order, so two erasures at once cannot deadlock on them.
  const bySequence = [...collect(await countSteps(db, { leadId }))].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [sequenceId, stepMap] of bySequence) {
    const steps = [...stepMap].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (const [stepId, counts] of steps) {
      const values = { ...counts, exited: counts.exited + counts.active };
      const columns = Object.entries(ERASED_COLUMNS);
      await sql`
        insert into erased_step_counts (sequence_id, step_id, ${sql.join(columns.map(([, column]) => sql.ref(column)))})
        values (${sequenceId}, ${stepId}, ${sql.join(columns.map(([key]) => sql`${values[key as keyof typeof ERASED_COLUMNS]}`))})
        on conflict (sequence_id, step_id) do update set ${sql.join(columns.map(([, column]) => sql`${sql.ref(column)} = erased_step_counts.${sql.ref(column)} + excluded.${sql.ref(column)}`))}`.execute(
        db,
      );
    }
  }
  await sql`
    insert into erased_enrollment_totals (sequence_id, status, count)
    select sequence_id, case when status = 'active' then 'exited' else status end, count(*) from enrollments where lead_id = ${leadId} group by 1, 2 order by 1, 2
    on conflict (sequence_id, status) do update set count = erased_enrollment_totals.count + excluded.count`.execute(db);
}

/** Enrollments of the sequence by status, and how many entered at all. */
export async function enrollmentTotals(db: Db, sequenceId: string): Promise<Record<string, number>> {
  const { rows } = await sql<{ status: string; count: string }>`
    select status, sum(count) as count from (
      select status, count(*) as count from enrollments where sequence_id = ${sequenceId} group by status
      union all
      select status, count from erased_enrollment_totals where sequence_id = ${sequenceId}
    ) counted group by status`.execute(db);
  const totals: Record<string, number> = { entered: 0, active: 0, completed: 0, converted: 0, exited: 0, parked: 0 };
  for (const row of rows) {
    totals[row.status] = Number(row.count);
    totals.entered = (totals.entered ?? 0) + Number(row.count);
  }
  return totals;
}
