import { HOLDOUT_STEP_ID } from '../experiments/assignment.js';
import { assertUnreachable } from '../platform/assert.js';
import { recordAssignment, storedHoldout } from './assignments.repository.js';
import { insertEnrollment, lastEnrollment } from './enrollments.repository.js';
import type { Engine } from './engine.js';
import type { EnrollOutcome } from './sequence-runner.js';
import { decideEntry } from './step-decider.js';

/*
 * Enrolling a lead: the facts (the lead's standing, its last enrollment, a stored holdout
 * decision) are read, decideEntry rules, and the enrollment, with its holdout decision for a
 * sequence that has one, is written in one transaction before its first step is scheduled.
 */

export async function enrollLead(engine: Engine, sequenceId: string, leadId: string, now: Date): Promise<EnrollOutcome> {
  const { deps } = engine;
  const sequence = engine.byId.get(sequenceId);
  if (!sequence) return { kind: 'unknown_sequence' };
  const lead = sequence.status === 'active' ? await deps.leads.get(leadId) : null;
  const standing = lead ? ((await engine.standingsOf([lead])).get(lead.id) ?? null) : null;
  const previous = standing ? await lastEnrollment(deps.db, leadId, sequenceId) : undefined;
  // Decided once per lead and sequence: a re-entry keeps the group it had.
  const held = standing && sequence.holdout > 0 ? await storedHoldout(deps.db, leadId, sequenceId) : null;
  const decision = decideEntry({
    now,
    sequence,
    lead: standing,
    previous: previous ? { status: previous.status, enteredAt: previous.entered_at } : null,
    storedHoldout: held,
  });
  switch (decision.kind) {
    case 'unknown_lead':
    case 'already_enrolled':
      return { kind: decision.kind };
    case 'not_eligible':
      return decision;
    case 'enroll': {
      const { holdout } = decision;
      const values = { leadId, sequenceId, version: sequence.version, hash: sequence.hash, firstStep: decision.firstStep };
      const enrollment = !holdout?.record
        ? await insertEnrollment(deps.db, values)
        : await deps.db.transaction().execute(async (trx) => {
            const row = await insertEnrollment(trx, values);
            if (row) await recordAssignment(trx, { leadId, sequenceId, stepId: HOLDOUT_STEP_ID, armId: holdout.arm, enrollmentId: row.id, at: now }, false);
            return row;
          });
      if (!enrollment) return { kind: 'already_enrolled' };
      await engine.scheduleStep(sequence, { enrollmentId: enrollment.id, stepId: decision.firstStep }, now);
      return { kind: 'enrolled', enrollment };
    }
    default:
      return assertUnreachable(decision);
  }
}
