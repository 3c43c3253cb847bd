import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, LeadScoresTable, LifecycleStage } from '../platform/db/schema.js';
import type { Score, ScoredEvent } from './score.js';

type Db = Kysely<Database>;

export type LeadScoreRow = Selectable<LeadScoresTable>;

/**
 * Tells the database triggers to queue leads for scoring, recording which rules are in force.
 * When scoring starts, or the rules changed, every lead with events is queued: scores follow the
 * rules in the file, not the ones that were there when the events came. Returns how many.
 */
export async function activateScoring(db: Db, rulesHash: string): Promise<number> {
  const previous = await db.selectFrom('settings').select('value').where('key', '=', 'scoring_active').executeTakeFirst();
  await db
    .insertInto('settings')
    .values({ key: 'scoring_active', value: rulesHash })
    .onConflict((conflict) => conflict.column('key').doUpdateSet({ value: rulesHash }))
    .execute();
  if (previous?.value === rulesHash) return 0;
  const result = await sql`
    insert into score_queue (lead_id) select distinct lead_id from events order by lead_id
    on conflict (lead_id) do update set queued_at = clock_timestamp(), taken_at = null`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** True for the one worker that should run the decay pass now (at most one per `everyMs`). */
export async function claimDecayPass(db: Db, everyMs: number): Promise<boolean> {
  const { rows } = await sql<{ key: string }>`
    insert into settings (key, value) values ('score_decay_at', now()::text)
    on conflict (key) do update set value = excluded.value
      where settings.value::timestamptz < now() - make_interval(secs => ${(everyMs * 0.9) / 1000})
    returning key`.execute(db);
  return rows.length > 0;
}

/** A lead with events dated after `until` is looked at again then (the take goes stale then). */
export async function deferScoreQueue(db: Db, row: QueuedScore, until: Date, staleAfterMs: number): Promise<void> {
  await db
    .updateTable('score_queue')
    .set({ taken_at: new Date(until.getTime() - staleAfterMs) })
    .where('lead_id', '=', row.lead_id)
    .where('queued_at', '=', row.queued_at)
    .execute();
}

export interface QueuedScore {
  lead_id: string;
  queued_at: Date;
}

/**
 * Takes up to `limit` leads waiting to be rescored. Like the trigger queue, rows are marked rather
 * than locked in an open transaction, and a row taken by a worker that died is taken again after
 * `staleAfterMs`. Rescoring is idempotent.
 */
export async function takeScoreQueue(db: Db, limit: number, staleAfterMs: number): Promise<QueuedScore[]> {
  const { rows } = await sql<QueuedScore>`
    update score_queue set taken_at = clock_timestamp() where lead_id in (
      select lead_id from score_queue
      where taken_at is null or taken_at < now() - make_interval(secs => ${staleAfterMs / 1000})
      order by queued_at limit ${limit} for update skip locked
    ) returning lead_id, queued_at`.execute(db);
  return rows;
}

/** Removes handled rows, unless an event arrived meanwhile (its trigger moved queued_at on). */
export async function releaseScoreQueue(db: Db, row: QueuedScore): Promise<void> {
  await db.deleteFrom('score_queue').where('lead_id', '=', row.lead_id).where('queued_at', '=', row.queued_at).execute();
}

export async function eventsForScoring(db: Db, leadId: string, since: Date | null): Promise<ScoredEvent[]> {
  let query = db.selectFrom('events').select(['id', 'type', 'occurred_at', 'properties']).where('lead_id', '=', leadId);
  if (since) query = query.where('occurred_at', '>=', since);
  const rows = await query.orderBy('occurred_at').orderBy('id').execute();
  return rows.map((row) => ({ id: row.id, type: row.type, occurredAt: row.occurred_at, properties: row.properties }));
}

export async function findLeadScore(db: Db, leadId: string): Promise<LeadScoreRow | undefined> {
  return db.selectFrom('lead_scores').selectAll().where('lead_id', '=', leadId).executeTakeFirst();
}

/**
 * Stores a recomputed score (not the stage: stages move only by compare-and-set, below, so a
 * rescore never undoes what sales decided meanwhile). Adds a history row when the score moved.
 */
export async function saveScore(db: Db, leadId: string, score: Score, stage: LifecycleStage, cause: string, now: Date): Promise<void> {
  const previous = await findLeadScore(db, leadId);
  const values = {
    total: score.total,
    engagement: score.engagement,
    fit: score.fit,
    grade: score.grade,
    breakdown: JSON.stringify(score.breakdown),
    scored_at: now,
  };
  await db
    .insertInto('lead_scores')
    .values({ lead_id: leadId, ...values })
    .onConflict((conflict) => conflict.column('lead_id').doUpdateSet(values))
    .execute();
  const moved = !previous || Math.abs(previous.total - score.total) >= 0.5 || previous.grade !== score.grade || previous.stage !== stage;
  if (moved) {
    await db
      .insertInto('score_history')
      .values({ lead_id: leadId, total: score.total, engagement: score.engagement, fit: score.fit, grade: score.grade, stage, cause, at: now })
      .execute();
  }
}

/** A new lead's row (stage subscriber), so that stage changes always have a row to compare and set. */
export async function ensureLeadScore(db: Db, leadId: string): Promise<void> {
  await db
    .insertInto('lead_scores')
    .values({ lead_id: leadId })
    .onConflict((conflict) => conflict.column('lead_id').doNothing())
    .execute();
}

/** Moves the stage from one of `from` to `to`; false when the lead was no longer in one of them. */
export async function moveStage(db: Db, leadId: string, from: LifecycleStage[], to: LifecycleStage, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('lead_scores')
    .set({ stage: to, stage_changed_at: now })
    .where('lead_id', '=', leadId)
    .where('stage', 'in', from)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Leads with engagement points, for the decay job, in pages by lead id. */
export async function engagedLeadIds(db: Db, after: string | null, limit: number): Promise<string[]> {
  let query = db.selectFrom('lead_scores').select('lead_id').where('engagement', '<>', 0);
  if (after) query = query.where('lead_id', '>', after);
  const rows = await query.orderBy('lead_id').limit(limit).execute();
  return rows.map((row) => row.lead_id);
}

export async function scoreHistory(db: Db, leadId: string, limit: number) {
  return db
    .selectFrom('score_history')
    .select(['at', 'total', 'engagement', 'fit', 'grade', 'stage', 'cause'])
    .where('lead_id', '=', leadId)
    .orderBy('at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}

/** Sales rejected the lead: events before now stop counting. Run in the rejection's transaction. */
export async function resetEngagement(db: Db, leadId: string, now: Date): Promise<void> {
  await db
    .insertInto('lead_scores')
    .values({ lead_id: leadId, engagement_since: now, breakdown: '[]' })
    .onConflict((conflict) => conflict.column('lead_id').doUpdateSet({ engagement_since: now }))
    .execute();
}
