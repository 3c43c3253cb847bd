import { parseDuration } from './duration.js';
import type { Condition } from './sequence.js';

/*
 * Entry conditions and branch options, evaluated on a snapshot of what Baton knows about a lead.
 * Pure and deterministic (now is in the facts), so the engine and a dry run agree exactly.
 */

export interface StepEngagement {
  sentAt: Date | null;
  /** Opens and clicks by people; machine traffic (scanners, privacy proxies) never counts. */
  humanOpens: Date[];
  humanClicks: Date[];
}

export interface LeadFacts {
  /** Lead fields by their sequence-file names (first_name, country, …). */
  fields: Record<string, string | null>;
  traits: Record<string, unknown>;
  tags: string[];
  score: number | null;
  engagement: Record<string, StepEngagement>;
}

export function evaluateCondition(condition: Condition, facts: LeadFacts): boolean {
  if ('all' in condition) return condition.all.every((inner) => evaluateCondition(inner, facts));
  if ('any' in condition) return condition.any.some((inner) => evaluateCondition(inner, facts));
  if ('not' in condition) return !evaluateCondition(condition.not, facts);
  if ('field' in condition) return compare(facts.fields[condition.field] ?? null, condition);
  if ('trait' in condition) return compare(facts.traits[condition.trait], condition);
  if ('tag' in condition) return facts.tags.includes(condition.tag);
  if ('score' in condition) {
    if (facts.score === null) return false;
    return (condition.score.gte === undefined || facts.score >= condition.score.gte) && (condition.score.lte === undefined || facts.score <= condition.score.lte);
  }
  if ('opened' in condition) return engagedWithin(facts.engagement[condition.opened], 'humanOpens', condition.within);
  if ('clicked' in condition) return engagedWithin(facts.engagement[condition.clicked], 'humanClicks', condition.within);
  return false;
}

function engagedWithin(engagement: StepEngagement | undefined, kind: 'humanOpens' | 'humanClicks', within: string | undefined): boolean {
  if (!engagement?.sentAt) return false;
  const sentAt = engagement.sentAt.getTime();
  const limit = within ? parseDuration(within) : null;
  return engagement[kind].some((at) => at.getTime() >= sentAt && (limit === null || at.getTime() - sentAt <= limit));
}

type Comparison = Exclude<Condition, { all: unknown } | { any: unknown } | { not: unknown } | { tag: unknown } | { score: unknown } | { opened: unknown } | { clicked: unknown }>;

/** Strings compare without regard to case: "us" and "US" are the same country. */
function compare(value: unknown, condition: Comparison): boolean {
  if ('exists' in condition) return (value !== undefined && value !== null && value !== '') === condition.exists;
  if (value === undefined || value === null) return false;
  if ('equals' in condition) return same(value, condition.equals);
  if ('in' in condition) return condition.in.some((option) => same(value, option));
  if ('matches' in condition) return new RegExp(condition.matches, 'i').test(String(value));
  const number = typeof value === 'number' ? value : Number(value);
  if (Number.isNaN(number)) return false;
  if ('gte' in condition) return number >= condition.gte;
  if ('lte' in condition) return number <= condition.lte;
  return false;
}

function same(value: unknown, expected: unknown): boolean {
  if (typeof value === 'string' && typeof expected === 'string') return value.toLowerCase() === expected.toLowerCase();
  if (typeof expected === 'number' && typeof value === 'string') return Number(value) === expected;
  return value === expected;
}
