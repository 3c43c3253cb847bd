import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import type { ExperimentMetric } from './split-definition.js';

/*
 * Experiment figures from the assignment rows (migration 0014): per arm, how many leads were
 * assigned and how many of them did each thing at least once after their assignment. Opens and
 * clicks count only when a person made them (tracking stores machine ones with
 * properties.machine = true); a goal is an enrollment in the sequence ending `converted`; an MQL
 * is the stage reaching `mql` (its score history, or the handoff that moves it there); a handoff
 * is a handoff to sales created.
 */

type Db = Kysely<Database>;

export type ArmCounts = { armId: string; entered: number } & Record<ExperimentMetric, number>;

interface ArmCountsRow {
  arm_id: string;
  entered: number;
  open: number;
  click: number;
  goal: number;
  mql: number;
  handoff: number;
}

/**
 * Each metric is a semi-join of the assigned leads against its table (one pass over each,
 * hashed), not a subquery per lead: results for a split with tens of thousands of leads stay
 * one query.
 */
export async function armCounts(db: Db, sequenceId: string, stepId: string): Promise<ArmCounts[]> {
  const { rows } = await sql<ArmCountsRow>`
    with assigned as materialized (
      select lead_id, arm_id, assigned_at from experiment_assignments where sequence_id = ${sequenceId} and step_id = ${stepId}
    ),
    opened as (
      select distinct a.lead_id from assigned a join events e on e.lead_id = a.lead_id
      where e.type = 'email_opened' and e.occurred_at >= a.assigned_at and (e.properties -> 'machine') is distinct from 'true'::jsonb
    ),
    clicked as (
      select distinct a.lead_id from assigned a join events e on e.lead_id = a.lead_id
      where e.type = 'email_clicked' and e.occurred_at >= a.assigned_at and (e.properties -> 'machine') is distinct from 'true'::jsonb
    ),
    converted as (
      select distinct a.lead_id from assigned a join enrollments en on en.lead_id = a.lead_id
      where en.sequence_id = ${sequenceId} and en.status = 'converted' and en.ended_at >= a.assigned_at
    ),
    handed as (
      select distinct a.lead_id from assigned a join handoffs h on h.lead_id = a.lead_id where h.created_at >= a.assigned_at
    ),
    -- Became an MQL: a history row at stage mql whose previous row was at another stage. A lead
    -- already an MQL before its assignment keeps writing mql rows as its score moves: not counted.
    stages as (
      select lead_id, at, stage, lag(stage) over (partition by lead_id order by at, id) as previous
      from score_history where lead_id in (select lead_id from assigned)
    ),
    qualified as (
      select a.lead_id from assigned a join stages s on s.lead_id = a.lead_id
      where s.stage = 'mql' and s.previous is distinct from 'mql' and s.at >= a.assigned_at
      union
      select lead_id from handed
    )
    select a.arm_id,
      count(*)::int as entered,
      count(o.lead_id)::int as open,
      count(c.lead_id)::int as click,
      count(g.lead_id)::int as goal,
      count(q.lead_id)::int as mql,
      count(h.lead_id)::int as handoff
    from assigned a
    left join opened o on o.lead_id = a.lead_id
    left join clicked c on c.lead_id = a.lead_id
    left join converted g on g.lead_id = a.lead_id
    left join qualified q on q.lead_id = a.lead_id
    left join handed h on h.lead_id = a.lead_id
    group by a.arm_id
    order by a.arm_id
  `.execute(db);
  return rows.map((row) => ({ armId: row.arm_id, entered: row.entered, open: row.open, click: row.click, goal: row.goal, mql: row.mql, handoff: row.handoff }));
}

/** The step ids (and '$holdout') that have assignment rows in a sequence, edits notwithstanding. */
export async function assignedStepIds(db: Db, sequenceId: string): Promise<string[]> {
  const { rows } = await sql<{
    step_id: string;
  }>`select distinct step_id from experiment_assignments where sequence_id = ${sequenceId} order by step_id`.execute(db);
  return rows.map((row) => row.step_id);
}

export interface WinnerRow {
  stepId: string;
  armId: string;
  metric: string;
  probability: number;
  figures: unknown;
  decidedAt: Date;
}

interface StoredWinnerRow {
  step_id: string;
  arm_id: string;
  metric: string;
  probability: number;
  figures: unknown;
  decided_at: Date;
}

const toWinner = (row: StoredWinnerRow): WinnerRow => ({
  stepId: row.step_id,
  armId: row.arm_id,
  metric: row.metric,
  probability: row.probability,
  figures: row.figures,
  decidedAt: row.decided_at,
});

export async function winnersOf(db: Db, sequenceId: string): Promise<WinnerRow[]> {
  const { rows } = await sql<StoredWinnerRow>`
    select step_id, arm_id, metric, probability, figures, decided_at from experiment_winners where sequence_id = ${sequenceId}
  `.execute(db);
  return rows.map(toWinner);
}

/**
 * Records a split's winner unless one is already recorded: the primary key makes the first
 * decision the only one, whichever worker gets there first. Null when another was there before.
 */
export async function recordWinner(
  db: Db,
  winner: { sequenceId: string; stepId: string; armId: string; metric: ExperimentMetric; probability: number; figures: unknown; decidedAt: Date },
): Promise<WinnerRow | null> {
  const { rows } = await sql<StoredWinnerRow>`
    insert into experiment_winners (sequence_id, step_id, arm_id, metric, probability, figures, decided_at)
    values (${winner.sequenceId}, ${winner.stepId}, ${winner.armId}, ${winner.metric}, ${winner.probability}, ${JSON.stringify(winner.figures)}::jsonb, ${winner.decidedAt})
    on conflict (sequence_id, step_id) do nothing
    returning step_id, arm_id, metric, probability, figures, decided_at
  `.execute(db);
  const row = rows[0];
  return row ? toWinner(row) : null;
}
