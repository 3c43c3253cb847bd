import Joi from 'joi';
import { LineCounter, parseDocument } from 'yaml';
import { parseDuration } from '../sequences/duration.js';
import { formatPath } from '../sequences/sequence-loader.js';
import { LEAD_FIELDS } from '../sequences/sequence.schemas.js';
import type { BehaviourRule, FitRule, FitTest, ScoringRules } from './score.js';

/*
 * The scoring file (scoring.yaml beside the sequences), validated like a sequence file: every
 * problem at once, each with its line and path. Not wired into Baton yet (issue 4).
 *
 *   half_life: 30d
 *   grades: { A: 30, B: 20, C: 10 }
 *   behaviour:
 *     - { id: pricing, event: page_view, where: { path: /pricing }, points: 10, cap: 30, cooldown: 1d }
 *   fit:
 *     - { id: exec, field: title, matches: "\\b(vp|chief)\\b", points: 15 }
 *     - { id: webmail, email_domain_in: [gmail.com], points: -20 }
 */

const ruleId = Joi.string().pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
  .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be lower-case letters, digits, - and _' });
const duration = Joi.string().custom((value: string, helpers) => (parseDuration(value) === null ? helpers.error('duration.invalid') : value))
  .messages({ 'duration.invalid': '{{#label}} "{{#value}}" is not a duration such as 30d (s, m, h, d or w)' });
const regex = Joi.string().max(500).custom((value: string, helpers) => {
  try {
    new RegExp(value, 'i');
    return value;
  } catch {
    return helpers.error('regex.invalid');
  }
}).messages({ 'regex.invalid': '{{#label}} "{{#value}}" is not a valid regular expression' });

const points = Joi.number().integer().min(-1000).max(1000).invalid(0).required()
  .messages({ 'any.invalid': '{{#label}} must not be 0: give it points, or remove the rule' });

const behaviourRule = Joi.object({
  id: ruleId.required(),
  event: Joi.string().min(1).max(100).required(),
  where: Joi.object().pattern(Joi.string(), Joi.alternatives(Joi.string(), Joi.number(), Joi.boolean())),
  points,
  cap: Joi.number().integer().min(1).max(100_000),
  cooldown: duration,
});

const fitRule = Joi.object({
  id: ruleId.required(),
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
  .with('matches', 'field').with('in', 'field').oxor('matches', 'in')
  .with('gte', 'trait').with('lte', 'trait')
  .messages({ 'object.missing': '{{#label}} must test one of field (with matches or in), trait (with gte/lte) or email_domain_in' });

const scoringSchema = Joi.object({
  half_life: duration.allow('none').default('30d'),
  grades: Joi.object({ A: Joi.number().required(), B: Joi.number().required(), C: Joi.number().required() })
    .custom((grades: { A: number; B: number; C: number }, helpers) => (grades.A > grades.B && grades.B > grades.C ? grades : helpers.error('grades.order')))
    .messages({ 'grades.order': '{{#label}} must give A more points than B, and B more than C' })
    .default({ A: 30, B: 20, C: 10 }),
  behaviour: Joi.array().items(behaviourRule).default([]).unique('id'),
  fit: Joi.array().items(fitRule).default([]).unique('id'),
});

export interface ScoringProblem {
  line: number | null;
  path: string;
  message: string;
}

export type ParseScoringResult = { ok: true; rules: ScoringRules } | { ok: false; problems: ScoringProblem[] };

type RawFitRule = { id: string; points: number; field?: string; matches?: string; in?: string[]; trait?: string; gte?: number; lte?: number; email_domain_in?: string[] };

export function parseScoringConfig(text: string): ParseScoringResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (document.errors.length > 0) return { ok: false, problems: document.errors.map((error) => ({ line: error.linePos?.[0]?.line ?? null, path: '', message: `YAML: ${error.message.split('\n')[0]}` })) };
  const { value, error } = scoringSchema.validate(document.toJS() ?? {}, { abortEarly: false, errors: { wrap: { label: false } } });
  if (error) {
    return {
      ok: false,
      problems: error.details.map((detail) => {
        const where = formatPath(detail.path);
        const node = document.getIn(detail.path, true) as { range?: [number, number, number] } | undefined;
        const message = detail.message.startsWith(`${where} `) ? detail.message.slice(where.length + 1) : detail.message;
        return { line: node?.range ? lineCounter.linePos(node.range[0]).line : null, path: where, message };
      }),
    };
  }
  const behaviour: BehaviourRule[] = (value.behaviour as Array<{ id: string; event: string; where?: Record<string, unknown>; points: number; cap?: number; cooldown?: string }>).map((rule) => ({
    id: rule.id, event: rule.event, where: rule.where, points: rule.points, cap: rule.cap, cooldownMs: rule.cooldown ? parseDuration(rule.cooldown) ?? undefined : undefined,
  }));
  const fit: FitRule[] = (value.fit as RawFitRule[]).map((rule) => ({ id: rule.id, points: rule.points, test: fitTest(rule) }));
  return { ok: true, rules: { behaviour, fit, grades: value.grades, halfLifeMs: value.half_life === 'none' ? null : parseDuration(value.half_life) } };
}

function fitTest(rule: RawFitRule): FitTest {
  if (rule.email_domain_in) return { emailDomainIn: rule.email_domain_in };
  if (rule.trait !== undefined) return { trait: rule.trait, gte: rule.gte, lte: rule.lte };
  if (rule.matches !== undefined) return { field: rule.field ?? '', matches: rule.matches };
  return { field: rule.field ?? '', in: rule.in ?? [] };
}
