import type { Kysely } from 'kysely';
import type { HandoffPort } from '../enrollments/sequence-runner.js';
import type { Database } from '../platform/db/schema.js';
import { scoreStandings } from '../scoring/lead-standing.js';
import { isWithSales } from '../scoring/lifecycle.js';
import { ensureLeadScore } from '../scoring/scoring.repository.js';
import type { ScoringService } from '../scoring/scoring.service.js';
import type { HandoffService } from './handoff.service.js';

/*
 * A sequence's handoff step, through the handoff service's own handOff: the same transaction,
 * the same single open handoff per lead, the same briefing (which names the step and its reason).
 */
export function stepHandoff(deps: { db: Kysely<Database>; handoffs: HandoffService; scoring: ScoringService }): HandoffPort {
  return {
    async handOverAtStep({ leadId, sequence, stepId, reason, now }) {
      // A lead never scored has no stage row yet; the stage moves by compare-and-set on it.
      await ensureLeadScore(deps.db, leadId);
      const standing = (await scoreStandings(deps.db, [leadId])).get(leadId);
      if (!standing) return { kind: 'not_handed_off', reason: 'the lead is gone' };
      if (isWithSales(standing.stage)) return { kind: 'not_handed_off', reason: `the lead is already with sales (stage ${standing.stage})` };
      const score = await deps.scoring.scoreAt(leadId, now);
      if (!score) return { kind: 'not_handed_off', reason: 'the lead is gone' };
      const done = await deps.handoffs.handOff(leadId, score, standing.stage, now, { kind: 'step', sequence, stepId, reason });
      return done ? { kind: 'handed_off' } : { kind: 'not_handed_off', reason: 'the lead changed stage meanwhile or already has an open handoff' };
    },
  };
}
