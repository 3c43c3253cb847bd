import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, EnrollmentStatus, EnrollmentsTable } from '../platform/db/schema.js';
import type { GoalInterest } from '../sequences/triggers.js';

type Db = Kysely<Database>;
export type EnrollmentRow = Selectable<EnrollmentsTable>;

/** Null when the lead already has an active enrollment in the sequence. */
export async function insertEnrollment(
  db: Db,
  input: { leadId: string; sequenceId: string; version: number; hash: string; firstStep: string },
): Promise<EnrollmentRow | null> {
  const row = await db
    .insertInto('enrollments')
    .values({ lead_id: input.leadId, sequence_id: input.sequenceId, sequence_version: input.version, sequence_hash: input.hash, current_step: input.firstStep })
    .onConflict((oc) => oc.columns(['lead_id', 'sequence_id']).where('status', '=', 'active').doNothing())
    .returningAll()
    .executeTakeFirst();
  return row ?? null;
}

export async function findEnrollment(db: Db, id: string): Promise<EnrollmentRow | undefined> {
  return db.selectFrom('enrollments').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function lastEnrollment(db: Db, leadId: string, sequenceId: string): Promise<EnrollmentRow | undefined> {
  return db
    .selectFrom('enrollments')
    .selectAll()
    .where('lead_id', '=', leadId)
    .where('sequence_id', '=', sequenceId)
    .orderBy('entered_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Moves an active enrollment from one step to the next; false if it was not at `from` any more. */
export async function moveToStep(db: Db, id: string, from: string, to: string): Promise<boolean> {
  return (await moveEnrollments(db, [{ id, from, to }])).has(id);
}

export async function endEnrollment(db: Db, id: string, status: Exclude<EnrollmentStatus, 'active'>, reason: string): Promise<void> {
  await endEnrollments(db, [{ id, status, reason }]);
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
      and (e.properties->'machine') is distinct from 'true'::jsonb
    where s.enrollment_id = ${enrollmentId} and s.status = 'sent'`.execute(db);
  return rows;
}

/** Whether an event of this type (with these properties) happened for the lead since `since`. */
export async function eventHappened(db: Db, leadId: string, type: string, where: Record<string, unknown> | undefined, since: Date): Promise<boolean> {
  return (await eventsHappened(db, [{ leadId, type, where, since }])).has(0);
}

export type TriggerInterestRow = { kind: 'lead_created' | 'tag_added' | 'event'; key: string };

/**
 * Adds the lead changes this process's content listens to (every role, at start and then every
 * minute), and drops interests no process has refreshed since `pruneBefore`, with the queued
 * changes only they wanted. Returns the interests that were new.
 *
 * A new interest is written under an exclusive lock on trigger_interests. The database triggers
 * that queue changes read that table, and hold their lock on it until their transaction ends:
 * taking the lock waits for every write that read the interests without this one, and holds
 * back the writes after it until the new interest is committed. So the changes that came before
 * are all committed and visible here, and those since `replaySince` are queued as if the interest
 * had been known then: the leads created, the leads carrying the tag and changed, the events
 * received. None is lost, and none is queued twice by the trigger and the replay.
 */
export async function registerTriggerInterests(db: Db, interests: TriggerInterestRow[], replaySince: Date, pruneBefore: Date): Promise<TriggerInterestRow[]> {
  const key = (interest: TriggerInterestRow) => `${interest.kind}\u0000${interest.key}`;
  const known = new Set((await db.selectFrom('trigger_interests').select(['kind', 'key']).execute()).map(key));
  const fresh = interests.filter((interest) => !known.has(key(interest)));
  if (interests.length > 0) {
    // Refreshing known interests needs no lock: the triggers read the rows, which do not change.
    await db
      .updateTable('trigger_interests')
      .set({ refreshed_at: sql`now()` })
      .where(
        sql<boolean>`(kind, key) in (select * from unnest(${interests.map((interest) => interest.kind)}::text[], ${interests.map((interest) => interest.key)}::text[]))`,
      )
      .execute();
  }
  const added =
    fresh.length === 0
      ? []
      : await db.transaction().execute(async (trx) => {
          await sql`lock table trigger_interests in access exclusive mode`.execute(trx);
          const { rows } = await sql<TriggerInterestRow>`
      insert into trigger_interests (kind, key)
      select * from unnest(${fresh.map((interest) => interest.kind)}::text[], ${fresh.map((interest) => interest.key)}::text[])
      on conflict (kind, key) do nothing
      returning kind, key`.execute(trx);
          await replayTriggers(trx, rows, replaySince);
          return rows;
        });
  const pruned = await db.deleteFrom('trigger_interests').where('refreshed_at', '<', pruneBefore).executeTakeFirst();
  if (Number(pruned.numDeletedRows) > 0) {
    await sql`delete from trigger_queue q where not exists (select 1 from trigger_interests i where i.kind = q.kind and i.key = q.key)`.execute(db);
  }
  return added;
}

/** Queues, for newly known interests, the changes since `since` that the database did not queue. */
async function replayTriggers(trx: Db, interests: TriggerInterestRow[], since: Date): Promise<void> {
  const keysOf = (kind: TriggerInterestRow['kind']) => interests.filter((interest) => interest.kind === kind).map((interest) => interest.key);
  if (interests.some((interest) => interest.kind === 'lead_created')) {
    await sql`insert into trigger_queue (lead_id, kind) select id, 'lead_created' from leads where created_at >= ${since} order by created_at, id`.execute(trx);
  }
  const tags = keysOf('tag_added');
  if (tags.length > 0) {
    // The tag history is not kept: a lead that has the tag and changed since stands for one tagged since.
    await sql`insert into trigger_queue (lead_id, kind, key)
      select l.id, 'tag_added', t.tag from unnest(${tags}::text[]) as t(tag) join leads l on l.tags @> array[t.tag] and l.updated_at >= ${since}
      order by l.updated_at, l.id`.execute(trx);
  }
  const types = keysOf('event');
  if (types.length > 0) {
    await sql`insert into trigger_queue (lead_id, kind, key, properties)
      select e.lead_id, 'event', e.type, e.properties from events e where e.type = any(${types}::text[]) and e.received_at >= ${since}
      order by e.occurred_at, e.id`.execute(trx);
  }
}

/** The goals the events trigger checks (migration 0009): replaced whole by each worker at start. */
export async function replaceSequenceGoals(db: Db, goals: GoalInterest[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext('baton-sequence-goals'))`.execute(trx);
    await trx.deleteFrom('sequence_goals').execute();
    if (goals.length > 0) {
      await trx
        .insertInto('sequence_goals')
        .values(goals.map((goal) => ({ sequence_id: goal.sequenceId, step_id: goal.stepId, event: goal.event, filter: JSON.stringify(goal.where) })))
        .execute();
    }
  });
}

export interface QueuedTrigger {
  id: string;
  lead_id: string;
  kind: 'lead_created' | 'tag_added' | 'event';
  key: string;
  properties: Record<string, unknown>;
}

/**
 * Leases up to `limit` queued lead changes this worker's content listens to (`interests`), oldest
 * first, hands them to `handle`, then deletes them. A change no interest of this worker matches
 * is left for a worker whose content has it (during a rolling deploy, one that adds a trigger).
 *
 * Leasing marks the rows (taken_by, taken_at) instead of holding a transaction open while
 * handling (on embedded PGlite an open transaction would stall every other connection). The
 * lease lasts `leaseMs` and is renewed every third of it while `handle` runs, so a worker that was
 * killed leaves its rows to the others within `leaseMs`. A worker that finds a renewal refused
 * (it stalled past its lease, and another took the rows) stops: `held(id)` turns false for those
 * rows, and it neither handles nor deletes them. Enrolling is idempotent besides.
 */
export async function drainTriggerQueue(
  db: Db,
  worker: string,
  interests: TriggerInterestRow[],
  limit: number,
  leaseMs: number,
  handle: (rows: QueuedTrigger[], held: (id: string) => boolean) => Promise<void>,
): Promise<number> {
  if (interests.length === 0) return 0;
  const { rows } = await sql<QueuedTrigger>`
    update trigger_queue set taken_at = now(), taken_by = ${worker} where id in (
      select q.id from trigger_queue q
      join unnest(${interests.map((interest) => interest.kind)}::text[], ${interests.map((interest) => interest.key)}::text[]) as i(kind, key)
        on q.kind = i.kind and q.key = i.key
      where q.taken_at is null or q.taken_at < now() - make_interval(secs => ${leaseMs / 1000})
      order by q.id limit ${limit} for update of q skip locked
    ) returning id, lead_id, kind, key, properties`.execute(db);
  if (rows.length === 0) return 0;
  const ids = rows.map((row) => row.id);
  const lost = new Set<string>();
  let renewing = Promise.resolve();
  const timer = setInterval(() => {
    renewing = renewing
      .then(async () => {
        const renewed = new Set(
          (
            await db
              .updateTable('trigger_queue')
              .set({ taken_at: sql`now()` })
              .where('id', 'in', ids)
              .where('taken_by', '=', worker)
              .returning('id')
              .execute()
          ).map((row) => row.id),
        );
        for (const id of ids) if (!renewed.has(id)) lost.add(id);
      })
      .catch(() => undefined);
  }, leaseMs / 3);
  try {
    await handle(
      rows.sort((a, b) => Number(a.id) - Number(b.id)),
      (id) => !lost.has(id),
    );
  } finally {
    clearInterval(timer);
    await renewing;
  }
  const handled = ids.filter((id) => !lost.has(id));
  if (handled.length > 0) await db.deleteFrom('trigger_queue').where('id', 'in', handled).where('taken_by', '=', worker).execute();
  return rows.length;
}

export interface ActiveEnrollmentPosition {
  sequence_id: string;
  current_step: string | null;
  sequence_hash: string | null;
  count: number;
}

/** Active enrollments grouped by sequence, step and the sequence file they follow. */
export async function activePositions(db: Db): Promise<ActiveEnrollmentPosition[]> {
  const rows = await db
    .selectFrom('enrollments')
    .select(['sequence_id', 'current_step', 'sequence_hash', (eb) => eb.fn.countAll<string>().as('count')])
    .where('status', '=', 'active')
    .groupBy(['sequence_id', 'current_step', 'sequence_hash'])
    .execute();
  return rows.map((row) => ({ ...row, count: Number(row.count) }));
}

/** Parks the active enrollments at a step (or of a sequence) that no longer exists. */
export async function parkAt(db: Db, sequenceId: string, step: string | null, reason: string): Promise<number> {
  let query = db
    .updateTable('enrollments')
    .set({ status: 'parked', exit_reason: reason, ended_at: sql`now()` })
    .where('sequence_id', '=', sequenceId)
    .where('status', '=', 'active');
  if (step !== null) query = query.where('current_step', '=', step);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** Moves the active enrollments of a sequence onto its current file (they keep their step ids). */
export async function repin(db: Db, sequenceId: string, version: number, hash: string): Promise<Array<{ id: string; current_step: string | null }>> {
  return db
    .updateTable('enrollments')
    .set({ sequence_version: version, sequence_hash: hash })
    .where('sequence_id', '=', sequenceId)
    .where('status', '=', 'active')
    .where((eb) => eb.or([eb('sequence_hash', 'is', null), eb('sequence_hash', '!=', hash)]))
    .returning(['id', 'current_step'])
    .execute();
}

/**
 * Active enrollments that have been at their step for a while with no step job pending: a worker
 * died between moving an enrollment (or creating it) and scheduling its next job.
 */
export async function orphanedEnrollments(db: Db, olderThan: Date, limit: number): Promise<Array<{ id: string; sequence_id: string; current_step: string }>> {
  const { rows } = await sql<{ id: string; sequence_id: string; current_step: string }>`
    select e.id, e.sequence_id, e.current_step from enrollments e
    where e.status = 'active' and e.current_step is not null and e.step_entered_at < ${olderThan}
      and not exists (
        select 1 from agenda_jobs j
        where j.name = 'sequence-step' and j.next_run_at is not null and j.data->>'enrollmentId' = e.id::text
      )
      and not exists (select 1 from email_queue q where q.enrollment_id = e.id)
    limit ${limit}`.execute(db);
  return rows;
}

export async function findEnrollments(db: Db, ids: string[]): Promise<Map<string, EnrollmentRow>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('enrollments')
    .selectAll()
    .where('id', 'in', [...new Set(ids)])
    .execute();
  return new Map(rows.map((row) => [row.id, row]));
}

/** moveToStep for a batch: the ids that were still active at their `from` step and moved. */
export async function moveEnrollments(db: Db, moves: Array<{ id: string; from: string; to: string }>): Promise<Set<string>> {
  if (moves.length === 0) return new Set();
  const { rows } = await sql<{ id: string }>`
    update enrollments e set current_step = r.to_step, step_entered_at = now()
    from unnest(${moves.map((move) => move.id)}::uuid[], ${moves.map((move) => move.from)}::text[], ${moves.map((move) => move.to)}::text[]) as r(id, from_step, to_step)
    where e.id = r.id and e.status = 'active' and e.current_step = r.from_step
    returning e.id`.execute(db);
  return new Set(rows.map((row) => row.id));
}

/** endEnrollment for a batch. */
export async function endEnrollments(db: Db, ends: Array<{ id: string; status: Exclude<EnrollmentStatus, 'active'>; reason: string }>): Promise<void> {
  if (ends.length === 0) return;
  await sql`
    update enrollments e set status = r.status, exit_reason = r.reason, ended_at = now()
    from unnest(${ends.map((end) => end.id)}::uuid[], ${ends.map((end) => end.status)}::text[], ${ends.map((end) => end.reason)}::text[]) as r(id, status, reason)
    where e.id = r.id and e.status = 'active'`.execute(db);
}

/**
 * eventHappened for a batch of checks: the positions (in `checks`) of those that happened. Machine
 * events (a mail scanner's click) reach no goal, as in the events trigger (migration 0009).
 */
export async function eventsHappened(
  db: Db,
  checks: Array<{ leadId: string; type: string; where: Record<string, unknown> | undefined; since: Date }>,
): Promise<Set<number>> {
  if (checks.length === 0) return new Set();
  const { rows } = await sql<{ position: string }>`
    select r.position from unnest(${checks.map((check) => check.leadId)}::uuid[], ${checks.map((check) => check.type)}::text[],
                                  ${checks.map((check) => JSON.stringify(check.where ?? {}))}::jsonb[], ${checks.map((check) => check.since)}::timestamptz[])
      with ordinality as r(lead_id, type, filter, since, position)
    where exists (select 1 from events e where e.lead_id = r.lead_id and e.type = r.type and e.occurred_at >= r.since and e.properties @> r.filter
                    and (e.properties ->> 'machine') is distinct from 'true')`.execute(db);
  return new Set(rows.map((row) => Number(row.position) - 1));
}

/** The active enrollments of these leads and the step each is at. */
export async function activeEnrollmentsOf(
  db: Db,
  leadIds: string[],
): Promise<Array<{ id: string; lead_id: string; sequence_id: string; current_step: string | null }>> {
  if (leadIds.length === 0) return [];
  return db
    .selectFrom('enrollments')
    .select(['id', 'lead_id', 'sequence_id', 'current_step'])
    .where('lead_id', 'in', [...new Set(leadIds)])
    .where('status', '=', 'active')
    .execute();
}
