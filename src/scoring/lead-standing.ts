import type { Kysely } from 'kysely';
import type { Database, LifecycleStage } from '../platform/db/schema.js';

/*
 * The scoring module's read of where leads stand (stored total and lifecycle stage), for the
 * sequence engine: a lead with sales leaves nurture, and branches may test the score.
 */

export interface ScoreStanding {
  total: number;
  stage: LifecycleStage;
}

/** Stored standings by lead id; a lead never scored is absent. */
export async function scoreStandings(db: Kysely<Database>, leadIds: string[]): Promise<Map<string, ScoreStanding>> {
  if (leadIds.length === 0) return new Map();
  const rows = await db
    .selectFrom('lead_scores')
    .select(['lead_id', 'total', 'stage'])
    .where('lead_id', 'in', [...new Set(leadIds)])
    .execute();
  return new Map(rows.map((row) => [row.lead_id, { total: row.total, stage: row.stage }]));
}
