import { containsAll } from '../sequences/triggers.js';

/*
 * Lead scoring as a pure function of (lead, events, rules, now): the same inputs always give the
 * same score, so a score recomputed from the stored events equals the one kept up to date event
 * by event, and a backtest can replay history through other rules. Machine events (link
 * scanners, privacy proxies) never count.
 *
 * Engagement comes from behaviour rules (events → points, each with an optional cap and
 * cooldown), decayed with a half-life; fit comes from rules on lead fields and traits, and gives
 * a grade A–D. Negative rules are behaviour rules with negative points.
 */

export interface BehaviourRule {
  id: string;
  event: string;
  /** Every key must be in the event's properties with the same value. */
  where?: Record<string, unknown>;
  points: number;
  /** At most this many points (in absolute value, after decay) from this rule. */
  cap?: number;
  /** Events of this rule closer than this to the last one counted are not counted. */
  cooldownMs?: number;
}

export type FitTest =
  { field: string; matches: string } | { field: string; in: string[] } | { trait: string; gte?: number; lte?: number } | { emailDomainIn: string[] };

export interface FitRule {
  id: string;
  test: FitTest;
  points: number;
}

export type Grade = 'A' | 'B' | 'C' | 'D';

export interface ScoringRules {
  behaviour: BehaviourRule[];
  fit: FitRule[];
  /** Points of an event halve every halfLifeMs; null: no decay. */
  halfLifeMs: number | null;
  /** Minimum fit points for grades A, B and C; below C's is D. */
  grades: { A: number; B: number; C: number };
}

export interface ScoredEvent {
  id: string;
  type: string;
  occurredAt: Date;
  properties: Record<string, unknown>;
}

export interface ScoredLead {
  email: string;
  /** Lead fields by their file names (title, country, company, …). */
  fields: Record<string, string | null>;
  traits: Record<string, unknown>;
}

export interface RuleContribution {
  rule: string;
  kind: 'behaviour' | 'fit';
  points: number;
  /** Events this rule counted (after cooldown), newest first, at most MAX_EVENT_IDS. */
  eventIds: string[];
  capped: boolean;
}

export interface Score {
  engagement: number;
  fit: number;
  grade: Grade;
  total: number;
  breakdown: RuleContribution[];
}

const round = (value: number) => Math.round(value * 100) / 100;

/** Events kept per rule in a breakdown (newest first): enough to explain it, not the whole history. */
export const MAX_EVENT_IDS = 20;

export function isMachineEvent(event: ScoredEvent): boolean {
  return event.properties.machine === true;
}

/** One behaviour rule's running total: what an incremental update keeps between events. */
export interface RuleState {
  /** Points as of `asOf` (already decayed to then, already capped). */
  points: number;
  asOf: number;
  lastCounted: number;
  eventIds: string[];
  capped: boolean;
}

/** Running state per behaviour rule id. */
export type EngagementState = Record<string, RuleState>;

/**
 * Folds one event into the running state. Events must come in time order; the cap applies to the
 * running total, so "at most N points from this rule at any time". scoreLead is this fold over
 * the stored events, which is why an incremental update and a recompute always agree.
 */
export function applyEvent(state: EngagementState, event: ScoredEvent, rules: ScoringRules): EngagementState {
  if (isMachineEvent(event)) return state;
  const at = event.occurredAt.getTime();
  let next = state;
  for (const rule of rules.behaviour) {
    if (event.type !== rule.event || !containsAll(event.properties, rule.where ?? {})) continue;
    const current = state[rule.id] ?? { points: 0, asOf: at, lastCounted: -Infinity, eventIds: [], capped: false };
    if (rule.cooldownMs !== undefined && at - current.lastCounted < rule.cooldownMs) continue;
    let points = current.points * decayFactor(at - current.asOf, rules.halfLifeMs) + rule.points;
    const capped = rule.cap !== undefined && Math.abs(points) > rule.cap;
    if (capped && rule.cap !== undefined) points = Math.sign(points) * rule.cap;
    next = {
      ...next,
      [rule.id]: { points, asOf: at, lastCounted: at, eventIds: [event.id, ...current.eventIds].slice(0, MAX_EVENT_IDS), capped: current.capped || capped },
    };
  }
  return next;
}

/** The score at `now` from a running state (decayed to now) and the lead's fit. */
export function scoreFromState(lead: ScoredLead, state: EngagementState, rules: ScoringRules, now: Date): Score {
  const breakdown: RuleContribution[] = [];
  for (const rule of rules.behaviour) {
    const entry = state[rule.id];
    if (!entry) continue;
    const points = entry.points * decayFactor(now.getTime() - entry.asOf, rules.halfLifeMs);
    breakdown.push({ rule: rule.id, kind: 'behaviour', points: round(points), eventIds: entry.eventIds, capped: entry.capped });
  }
  for (const rule of rules.fit) {
    if (fitHolds(rule.test, lead)) breakdown.push({ rule: rule.id, kind: 'fit', points: rule.points, eventIds: [], capped: false });
  }
  const sum = (kind: RuleContribution['kind']) => round(breakdown.filter((entry) => entry.kind === kind).reduce((total, entry) => total + entry.points, 0));
  const engagement = sum('behaviour');
  const fit = sum('fit');
  return { engagement, fit, grade: gradeOf(fit, rules.grades), total: round(engagement + fit), breakdown };
}

/** Events in time order (ties by id), up to now. */
export function inScoringOrder(events: ScoredEvent[], now: Date): ScoredEvent[] {
  return events
    .filter((event) => event.occurredAt.getTime() <= now.getTime())
    .sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime() || a.id.localeCompare(b.id));
}

export function scoreLead(lead: ScoredLead, events: ScoredEvent[], rules: ScoringRules, now: Date): Score {
  const state = inScoringOrder(events, now).reduce<EngagementState>((current, event) => applyEvent(current, event, rules), {});
  return scoreFromState(lead, state, rules, now);
}

export function decayFactor(ageMs: number, halfLifeMs: number | null): number {
  if (halfLifeMs === null || ageMs <= 0) return 1;
  return 0.5 ** (ageMs / halfLifeMs);
}

export function gradeOf(fit: number, grades: ScoringRules['grades']): Grade {
  if (fit >= grades.A) return 'A';
  if (fit >= grades.B) return 'B';
  if (fit >= grades.C) return 'C';
  return 'D';
}

function fitHolds(test: FitTest, lead: ScoredLead): boolean {
  if ('emailDomainIn' in test) {
    const domain = lead.email.slice(lead.email.lastIndexOf('@') + 1).toLowerCase();
    return test.emailDomainIn.some((candidate) => candidate.toLowerCase() === domain);
  }
  if ('trait' in test) {
    const value = Number(lead.traits[test.trait]);
    if (lead.traits[test.trait] === undefined || lead.traits[test.trait] === null || Number.isNaN(value)) return false;
    return (test.gte === undefined || value >= test.gte) && (test.lte === undefined || value <= test.lte);
  }
  const value = lead.fields[test.field];
  if (!value) return false;
  if ('matches' in test) return new RegExp(test.matches, 'i').test(value);
  return test.in.some((option) => option.toLowerCase() === value.toLowerCase());
}
