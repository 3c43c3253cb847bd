/*
 * Deterministic experiment assignment: the arm a lead takes at a split step, and whether it is
 * held out of a sequence, follow from a hash of (lead, sequence, step). The same lead gets the
 * same answer on every run, in every process and after a restart, with no shared state; the
 * stored row (experiment_assignments) keeps it across edits of the weights.
 */
import { createHash } from 'node:crypto';

export interface WeightedArm {
  id: string;
  weight: number;
}

/** The pseudo step id under which a sequence's holdout decision is stored. */
export const HOLDOUT_STEP_ID = '$holdout';
export type HoldoutArm = 'holdout' | 'treatment';

/** A number in [0, 1), uniform over leads, fixed for one (lead, sequence, step). */
export function assignmentPoint(leadId: string, sequenceId: string, stepId: string): number {
  const digest = createHash('sha256').update(`${leadId}\u0000${sequenceId}\u0000${stepId}`).digest();
  // 48 bits: exact in a double, far finer than any weight.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

/** The arm whose share of the total weight covers `point`. Arms with weight 0 are never chosen. */
export function chooseArm(arms: readonly WeightedArm[], point: number): string {
  const total = arms.reduce((sum, arm) => sum + Math.max(0, arm.weight), 0);
  if (arms.length === 0 || total <= 0) throw new Error('a split needs at least one arm with a positive weight');
  let cumulative = 0;
  for (const arm of arms) {
    cumulative += Math.max(0, arm.weight) / total;
    if (point < cumulative && arm.weight > 0) return arm.id;
  }
  // Rounding can leave the last sliver uncovered: it belongs to the last arm that can be chosen.
  return [...arms].reverse().find((arm) => arm.weight > 0)!.id;
}

export function armForLead(leadId: string, sequenceId: string, stepId: string, arms: readonly WeightedArm[]): string {
  return chooseArm(arms, assignmentPoint(leadId, sequenceId, stepId));
}

/** `share` is a fraction (0.1 for `holdout: 10%`). */
export function holdoutArmForLead(leadId: string, sequenceId: string, share: number): HoldoutArm {
  return assignmentPoint(leadId, sequenceId, HOLDOUT_STEP_ID) < share ? 'holdout' : 'treatment';
}
