import type { PlannedLead } from './funnel-history.js';

/*
 * The funnel report worked out in plain JavaScript from the plan of funnel-history.ts, never from
 * the database: what the API, the CLI and the Pipeline page must agree with. Its definitions are
 * the ones docs/reporting.md states (a cohort by creation time; "reached" a stage means it or any
 * later one; time in a stage from its first entry to the change after it; percentiles by linear
 * interpolation; Wilson intervals), written again here on purpose.
 */

export type Stage = 'subscriber' | 'lead' | 'mql' | 'sql' | 'customer';
export interface ExpectedGroup {
  stages: Record<Stage, number>;
  recycled: number;
  disqualified: number;
  times: Record<'subscriber' | 'lead' | 'mql' | 'sql', number[]>;
  value: Record<string, number>;
  rejections: Record<string, number>;
  credit: Record<'mql' | 'sql' | 'customer', { first: number; last: number; linear: number }>;
}

export interface ExpectedRep {
  handoffs: number;
  accepted: number;
  converted: number;
  rejected: number;
  acceptSeconds: number[];
  breaches: number;
  value: Record<string, number>;
}

function emptyGroup(): ExpectedGroup {
  const credit = () => ({ first: 0, last: 0, linear: 0 });
  return {
    stages: { subscriber: 0, lead: 0, mql: 0, sql: 0, customer: 0 },
    recycled: 0,
    disqualified: 0,
    times: { subscriber: [], lead: [], mql: [], sql: [] },
    value: {},
    rejections: {},
    credit: { mql: credit(), sql: credit(), customer: credit() },
  };
}

function monthIn(at: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit' }).formatToParts(at);
  return `${parts.find((part) => part.type === 'year')?.value}-${parts.find((part) => part.type === 'month')?.value}`;
}

function keysOf(lead: PlannedLead, by: 'source' | 'sequence' | 'rep' | 'month' | null, timeZone: string): string[] {
  switch (by) {
    case null:
      return ['all'];
    case 'source':
      return [lead.source ?? '(none)'];
    case 'month':
      return [monthIn(lead.createdAt, timeZone)];
    case 'rep': {
      const first = lead.handoffs[0];
      return [first ? (first.reassigned?.rep ?? first.rep) : '(none)'];
    }
    case 'sequence': {
      const sequences = [...new Set(lead.enrollments.map((enrollment) => enrollment.sequence))];
      return sequences.length > 0 ? sequences : ['(none)'];
    }
  }
}

/** Every fact the report needs about one lead, from its plan. */
function factsOf(lead: PlannedLead) {
  const timeline = [{ to: 'subscriber', at: lead.createdAt }, ...lead.stages];
  const firstIndex = (stage: string) => timeline.findIndex((entry) => entry.to === stage);
  const entered = (stage: string) => timeline[firstIndex(stage)]?.at ?? null;
  const reached = (...stages: string[]) => stages.some((stage) => firstIndex(stage) >= 0);
  const timeIn = (stage: string) => {
    const index = firstIndex(stage);
    const next = index >= 0 ? timeline[index + 1] : undefined;
    const start = entered(stage);
    return next && start ? (next.at.getTime() - start.getTime()) / 1000 : null;
  };
  const first = lead.handoffs[0];
  const touched = first ? lead.enrollments.filter((enrollment) => enrollment.at <= first.at).map((enrollment) => enrollment.sequence) : [];
  const humanTouches = first
    ? lead.enrollments.flatMap((enrollment) =>
        enrollment.sends.flatMap((send) =>
          send.touches.filter((touch) => !touch.machine && touch.at <= first.at).map((touch) => ({ ...touch, sequence: enrollment.sequence })),
        ),
      )
    : [];
  humanTouches.sort((a, b) => b.at.getTime() - a.at.getTime() || (b.kind === 'email_clicked' ? 1 : 0) - (a.kind === 'email_clicked' ? 1 : 0));
  const conversion = lead.handoffs.map((handoff) => handoff.closed).find((closed) => closed?.status === 'converted');
  return {
    reached: {
      subscriber: true,
      lead: reached('lead', 'mql', 'sql', 'customer'),
      mql: reached('mql', 'sql', 'customer'),
      sql: reached('sql', 'customer'),
      customer: reached('customer'),
    },
    recycled: reached('recycled'),
    disqualified: reached('disqualified'),
    times: { subscriber: timeIn('subscriber'), lead: timeIn('lead'), mql: timeIn('mql'), sql: timeIn('sql') },
    deal: conversion?.status === 'converted' ? conversion.deal : null,
    rejections: lead.handoffs.flatMap((handoff) =>
      handoff.closed?.status === 'rejected' ? [lead.erase ? '(erased lead)' : handoff.closed.reason || '(none given)'] : [],
    ),
    touched,
    lastSequence: humanTouches[0]?.sequence ?? null,
  };
}

export function expectedFunnel(
  leads: PlannedLead[],
  window: { from: Date; to: Date },
  by: 'source' | 'sequence' | 'rep' | 'month' | null,
  timeZone = 'UTC',
): { total: ExpectedGroup; groups: Map<string, ExpectedGroup> } {
  const total = emptyGroup();
  const groups = new Map<string, ExpectedGroup>();
  for (const lead of leads) {
    if (lead.createdAt < window.from || lead.createdAt >= window.to) continue;
    const facts = factsOf(lead);
    const keys = keysOf(lead, by, timeZone);
    for (const [index, group] of [total, ...keys.map((key) => groups.get(key) ?? groups.set(key, emptyGroup()).get(key) ?? emptyGroup())].entries()) {
      for (const stage of ['subscriber', 'lead', 'mql', 'sql', 'customer'] as const) if (facts.reached[stage]) group.stages[stage]++;
      if (facts.recycled) group.recycled++;
      if (facts.disqualified) group.disqualified++;
      for (const stage of ['subscriber', 'lead', 'mql', 'sql'] as const) {
        const seconds = facts.times[stage];
        if (seconds !== null) group.times[stage].push(seconds);
      }
      if (facts.deal) group.value[facts.deal.currency] = (group.value[facts.deal.currency] ?? 0) + facts.deal.value;
      for (const reason of facts.rejections) group.rejections[reason] = (group.rejections[reason] ?? 0) + 1;
      const key = index === 0 ? null : keys[index - 1];
      if (by === 'sequence' && key) {
        for (const stage of ['mql', 'sql', 'customer'] as const) {
          if (!facts.reached[stage] || !facts.touched.includes(key)) continue;
          if (facts.touched[0] === key) group.credit[stage].first++;
          if (facts.lastSequence === key) group.credit[stage].last++;
          group.credit[stage].linear += 1 / facts.touched.length;
        }
      }
    }
  }
  return { total, groups };
}

export function expectedReps(leads: PlannedLead[], window: { from: Date; to: Date }): Map<string, ExpectedRep> {
  const reps = new Map<string, ExpectedRep>();
  const of = (rep: string) =>
    reps.get(rep) ??
    reps.set(rep, { handoffs: 0, accepted: 0, converted: 0, rejected: 0, acceptSeconds: [], breaches: 0, value: {} }).get(rep) ??
    reps.get(rep);
  for (const lead of leads) {
    for (const handoff of lead.handoffs) {
      if (handoff.at < window.from || handoff.at >= window.to) continue;
      const rep = handoff.reassigned?.rep ?? handoff.rep;
      const line = of(rep);
      if (!line) continue;
      line.handoffs++;
      if (handoff.acceptedAt || handoff.closed?.status === 'converted') line.accepted++;
      if (handoff.acceptedAt) line.acceptSeconds.push((handoff.acceptedAt.getTime() - handoff.at.getTime()) / 1000);
      if (handoff.closed?.status === 'converted') {
        line.converted++;
        const deal = handoff.closed.deal;
        if (deal) line.value[deal.currency] = (line.value[deal.currency] ?? 0) + deal.value;
      }
      if (handoff.closed?.status === 'rejected') line.rejected++;
      // Reminded (the rep holding it then) or reassigned away from: one breach per rep and handoff.
      const breached = new Set([...(handoff.remindedAt ? [handoff.rep] : []), ...(handoff.reassigned ? [handoff.rep] : [])]);
      for (const who of breached) {
        const entry = of(who);
        if (entry) entry.breaches++;
      }
    }
  }
  return reps;
}

/** Linear interpolation between closest ranks (PostgreSQL's percentile_cont). */
export function interpolatedPercentile(values: number[], fraction: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = fraction * (sorted.length - 1);
  const lower = sorted[Math.floor(rank)] ?? 0;
  const upper = sorted[Math.ceil(rank)] ?? lower;
  return lower + (upper - lower) * (rank - Math.floor(rank));
}

/** Wilson score interval at 95%, in its textbook form. */
export function wilsonInterval(successes: number, trials: number): [number, number] | null {
  if (trials === 0) return null;
  const z = 1.959963984540054;
  const p = successes / trials;
  const denominator = 1 + (z * z) / trials;
  const centre = p + (z * z) / (2 * trials);
  const spread = z * Math.sqrt((p * (1 - p) + (z * z) / (4 * trials)) / trials);
  return [Math.max(0, (centre - spread) / denominator), Math.min(1, (centre + spread) / denominator)];
}
