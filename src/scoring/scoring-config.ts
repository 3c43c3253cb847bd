import Joi from 'joi';
import { fileId, parseYamlFile, regexPattern, type FileProblem } from '../platform/config-file-schemas.js';
import { parseDuration } from '../sequences/duration.js';
import { LEAD_FIELDS } from '../sequences/sequence.schemas.js';
import { toTopic, topicSchema, type Topic } from './topics.js';
import type { IntentRule } from './intent.js';
import type { BehaviourRule, FitRule, FitTest, Grade, ScoringRules } from './score.js';

/*
 * The scoring file (scoring.yaml beside the sequences), validated like a sequence file: every
 * problem at once, each with its line and path (docs/scoring.md describes it).
 *
 *   half_life: 30d
 *   lifecycle: { lead_at: 1, mql: { engagement: 50, min_grade: B }, recycle_sequence: re-engagement }
 *   grades: { A: 30, B: 20, C: 10 }
 *   behaviour:
 *     - { id: pricing, event: page_view, where: { path: /pricing }, points: 10, cap: 30, cooldown: 1d }
 *   fit:
 *     - { id: exec, field: title, matches: "\\b(vp|chief)\\b", points: 15 }
 *     - { id: webmail, email_domain_in: [gmail.com], points: -20 }
 *   intent:
 *     - { id: demo-request, label: Demo request, event: form_submit, where: { form: demo }, min_grade: C, within: 30d }
 */

const ruleId = fileId;
const regex = regexPattern;
const duration = Joi.string()
  .custom((value: string, helpers) => (parseDuration(value) === null ? helpers.error('duration.invalid') : value))
  .messages({ 'duration.invalid': '{{#label}} "{{#value}}" is not a duration such as 30d (s, m, h, d or w)' });

const points = Joi.number()
  .integer()
  .min(-1000)
  .max(1000)
  .invalid(0)
  .required()
  .messages({ 'any.invalid': '{{#label}} must not be 0: give it points, or remove the rule' });

const label = Joi.string().min(1).max(200);

const eventWhere = Joi.object().pattern(Joi.string(), Joi.alternatives(Joi.string(), Joi.number(), Joi.boolean()));

const behaviourRule = Joi.object({
  id: ruleId.required(),
  label,
  event: Joi.string().min(1).max(100).required(),
  where: eventWhere,
  points,
  cap: Joi.number().integer().min(1).max(100_000),
  cooldown: duration,
});

const fitRule = Joi.object({
  id: ruleId.required(),
  label,
  points,
  field: Joi.string().valid(...LEAD_FIELDS),
  matches: regex,
  in: Joi.array().items(Joi.string()).min(1),
  trait: Joi.string().min(1).max(100),
  gte: Joi.number(),
  lte: Joi.number(),
  email_domain_in: Joi.array().items(Joi.string().hostname()).min(1),
})
  .xor('field', 'trait', 'email_domain_in')
  .with('matches', 'field')
  .with('in', 'field')
  .oxor('matches', 'in')
  .with('gte', 'trait')
  .with('lte', 'trait')
  .messages({ 'object.missing': '{{#label}} must test one of field (with matches or in), trait (with gte/lte) or email_domain_in' });

/** Default window of an intent rule: a hand raised longer ago no longer hands a lead off. */
export const DEFAULT_INTENT_WITHIN = '30d';

const intentRule = Joi.object({
  id: ruleId.required(),
  label,
  event: Joi.string().min(1).max(100).required(),
  where: eventWhere,
  min_grade: Joi.string().valid('A', 'B', 'C', 'D').default('D'),
  within: duration.default(DEFAULT_INTENT_WITHIN),
});

type RawBehaviourRule = { id: string; label?: string; event: string; where?: Record<string, unknown>; points: number; cap?: number; cooldown?: string };
type RawIntentRule = { id: string; label?: string; event: string; where?: Record<string, unknown>; min_grade: Grade; within: string };
type RawTopic = { id: string; label: string; matches: string; talking_point: string };
/** The scoring file as the schema below leaves it (defaults applied). */
type RawScoringFile = {
  half_life: string;
  grades: { A: number; B: number; C: number };
  behaviour: RawBehaviourRule[];
  fit: RawFitRule[];
  intent: RawIntentRule[];
  lifecycle?: { lead_at: number; mql: { engagement: number; min_grade: Grade }; recycle_sequence?: string };
  topics: RawTopic[];
};

const scoringSchema = Joi.object<RawScoringFile, true>({
  half_life: duration.allow('none').default('30d'),
  grades: Joi.object({ A: Joi.number().required(), B: Joi.number().required(), C: Joi.number().required() })
    .custom((grades: { A: number; B: number; C: number }, helpers) => (grades.A > grades.B && grades.B > grades.C ? grades : helpers.error('grades.order')))
    .messages({ 'grades.order': '{{#label}} must give A more points than B, and B more than C' })
    .default({ A: 30, B: 20, C: 10 }),
  behaviour: Joi.array().items(behaviourRule).default([]).unique('id'),
  fit: Joi.array().items(fitRule).default([]).unique('id'),
  // Events by which a lead asks for sales: handed off at once, whatever the score.
  intent: Joi.array().items(intentRule).default([]).unique('id'),
  lifecycle: Joi.object({
    // Engagement points that make a subscriber a lead.
    lead_at: Joi.number().min(0).default(1),
    mql: Joi.object({
      engagement: Joi.number().greater(0).required(),
      min_grade: Joi.string().valid('A', 'B', 'C', 'D').default('D'),
    }).required(),
    recycle_sequence: Joi.string().min(1).max(100),
  }),
  topics: Joi.array().items(topicSchema).default([]).unique('id'),
});

/** What the scoring file configures besides the rules: stages, the handoff threshold, topics. */
export interface ScoringConfig {
  rules: ScoringRules;
  /** Rule id → what a person reads in the briefing and the score breakdown. */
  labels: Record<string, string>;
  /** Null: scores only, no stages past lead and no handoff. */
  lifecycle: {
    leadAt: number;
    mql: { engagement: number; minGrade: Grade };
    /** The sequence a lead rejected by sales enters; none: it just waits. */
    recycleSequence: string | null;
  } | null;
  topics: Topic[];
  /** Raised hands: events that hand a lead to sales at once. */
  intent: IntentRule[];
}

export type ScoringProblem = FileProblem;

export type ParseScoringResult = { ok: true; rules: ScoringRules; config: ScoringConfig } | { ok: false; problems: ScoringProblem[] };

type RawFitRule = {
  id: string;
  label?: string;
  points: number;
  field?: string;
  matches?: string;
  in?: string[];
  trait?: string;
  gte?: number;
  lte?: number;
  email_domain_in?: string[];
};

export function parseScoringConfig(text: string): ParseScoringResult {
  const parsed = parseYamlFile(text, scoringSchema);
  if (!parsed.ok) return parsed;
  const value = parsed.value;
  const behaviour: BehaviourRule[] = value.behaviour.map((rule) => ({
    id: rule.id,
    event: rule.event,
    where: rule.where,
    points: rule.points,
    cap: rule.cap,
    cooldownMs: rule.cooldown ? (parseDuration(rule.cooldown) ?? undefined) : undefined,
  }));
  const fit: FitRule[] = value.fit.map((rule) => ({ id: rule.id, points: rule.points, test: fitTest(rule) }));
  const rules: ScoringRules = { behaviour, fit, grades: value.grades, halfLifeMs: value.half_life === 'none' ? null : parseDuration(value.half_life) };
  const labels = Object.fromEntries([...value.behaviour, ...value.fit].map((rule) => [rule.id, rule.label ?? rule.id]));
  const lifecycle = value.lifecycle;
  const config: ScoringConfig = {
    rules,
    labels,
    lifecycle: lifecycle
      ? {
          leadAt: lifecycle.lead_at,
          mql: { engagement: lifecycle.mql.engagement, minGrade: lifecycle.mql.min_grade },
          recycleSequence: lifecycle.recycle_sequence ?? null,
        }
      : null,
    topics: value.topics.map(toTopic),
    intent: value.intent.map((rule) => ({
      id: rule.id,
      label: rule.label ?? rule.id,
      event: rule.event,
      where: rule.where,
      minGrade: rule.min_grade,
      withinMs: parseDuration(rule.within) ?? 0,
    })),
  };
  return { ok: true, rules, config };
}

function fitTest(rule: RawFitRule): FitTest {
  if (rule.email_domain_in) return { emailDomainIn: rule.email_domain_in };
  if (rule.trait !== undefined) return { trait: rule.trait, gte: rule.gte, lte: rule.lte };
  if (rule.matches !== undefined) return { field: rule.field ?? '', matches: rule.matches };
  return { field: rule.field ?? '', in: rule.in ?? [] };
}
