import Joi from 'joi';
import { canonicalTimeZone } from '../platform/time-zones.js';
import { DURATION_PATTERN, parseDuration } from './duration.js';
import { EXPERIMENT_METRICS, WEEKDAYS } from './sequence.js';

/*
 * The structure of a sequence file, as written (snake_case keys). Messages say what is accepted,
 * because the people reading them write YAML, not code.
 */

export const STEP_ACTIONS = ['wait', 'email', 'branch', 'goal', 'update_lead', 'webhook', 'split', 'handoff', 'end'] as const;
const ACTION_LIST = 'wait, email, branch, goal, update_lead, webhook, split, handoff or end';
const CONDITION_KINDS = ['all', 'any', 'not', 'field', 'trait', 'tag', 'score', 'opened', 'clicked'] as const;
const COMPARISONS = ['equals', 'in', 'matches', 'gte', 'lte', 'exists'] as const;
export const LEAD_FIELDS = ['email', 'first_name', 'last_name', 'company', 'title', 'phone', 'timezone', 'country', 'source'] as const;

const id = Joi.string().pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
  .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be lower-case letters, digits, - and _ (at most 64), starting with a letter or digit' });

const duration = Joi.string().pattern(DURATION_PATTERN).custom((value: string, helpers) => (DURATION_PATTERN.test(value) && parseDuration(value) === null ? helpers.error('duration.range') : value))
  .messages({
    'string.pattern.base': '{{#label}} "{{#value}}" is not a duration: use a whole number from 1 and a unit (s, m, h, d or w), e.g. 2d',
    'string.base': '{{#label}} must be a duration such as 2d',
    'duration.range': '{{#label}} "{{#value}}" is longer than two years',
  });

const clock = Joi.string().pattern(/^([01]\d|2[0-3]):[0-5]\d$/).messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be a time HH:MM, e.g. 09:30' });
const weekdays = Joi.array().items(Joi.string().valid(...WEEKDAYS)).min(1).unique()
  .messages({ 'any.only': '{{#label}} "{{#value}}" is not a weekday; use {{#valids}}' });
const timeZone = Joi.string().custom((value: string, helpers) => canonicalTimeZone(value) ?? helpers.error('timezone.unknown'))
  .messages({ 'timezone.unknown': '{{#label}} "{{#value}}" is not an IANA time zone such as Europe/Paris' });

const propertyFilter = Joi.object().pattern(Joi.string(), Joi.alternatives(Joi.string(), Joi.number(), Joi.boolean()))
  .messages({ 'alternatives.types': '{{#label}} must be a string, number or boolean to compare with the event property' });

const condition: Joi.ObjectSchema = Joi.object({
  all: Joi.array().items(Joi.link('#condition')).min(1),
  any: Joi.array().items(Joi.link('#condition')).min(1),
  not: Joi.link('#condition'),
  field: Joi.string().valid(...LEAD_FIELDS).messages({ 'any.only': '{{#label}} "{{#value}}" is not a lead field; use {{#valids}}' }),
  trait: Joi.string().min(1).max(100),
  tag: Joi.string().min(1).max(64),
  score: Joi.object({ gte: Joi.number(), lte: Joi.number() }).or('gte', 'lte'),
  opened: id,
  clicked: id,
  within: duration,
  equals: Joi.alternatives(Joi.string(), Joi.number(), Joi.boolean()),
  in: Joi.array().items(Joi.string(), Joi.number()).min(1),
  matches: Joi.string().custom((value: string, helpers) => {
    try {
      new RegExp(value, 'i');
      return value;
    } catch {
      return helpers.error('regex.invalid');
    }
  }).messages({ 'regex.invalid': '{{#label}} "{{#value}}" is not a valid regular expression' }),
  gte: Joi.number(),
  lte: Joi.number(),
  exists: Joi.boolean(),
})
  .xor(...CONDITION_KINDS)
  .custom((value: Record<string, unknown>, helpers) => {
    const comparisons = COMPARISONS.filter((key) => key in value);
    const compared = 'field' in value || 'trait' in value;
    if (compared && comparisons.length !== 1) return helpers.error('condition.comparison');
    if (!compared && comparisons.length > 0) return helpers.error('condition.stray');
    if ('within' in value && !('opened' in value || 'clicked' in value)) return helpers.error('condition.within');
    return value;
  })
  .messages({
    'object.xor': '{{#label}} must hold exactly one condition: all, any, not, field, trait, tag, score, opened or clicked',
    'object.missing': '{{#label}} must hold exactly one condition: all, any, not, field, trait, tag, score, opened or clicked',
    'condition.comparison': '{{#label}} compares a field or trait with exactly one of equals, in, matches, gte, lte or exists',
    'condition.stray': '{{#label}} uses a comparison (equals, in, matches, gte, lte, exists) without a field or trait',
    'condition.within': '{{#label}} uses within, which only goes with opened or clicked',
  })
  .id('condition');

const trigger = Joi.object({
  type: Joi.string().valid('manual', 'lead_created', 'tag_added', 'event').required()
    .messages({ 'any.only': '{{#label}} "{{#value}}" is not a trigger; use {{#valids}}' }),
  tag: Joi.when('type', { is: 'tag_added', then: Joi.string().min(1).max(64).required(), otherwise: Joi.forbidden() }),
  event: Joi.when('type', { is: 'event', then: Joi.string().min(1).max(100).required(), otherwise: Joi.forbidden() }),
  where: Joi.when('type', { is: 'event', then: propertyFilter, otherwise: Joi.forbidden() }),
});

const emailAction = Joi.alternatives(
  Joi.string().pattern(/^[\w-]+$/),
  Joi.object({ template: Joi.string().pattern(/^[\w-]+$/).required(), subject: Joi.string().max(300), from: Joi.string().max(300) }),
).messages({ 'alternatives.types': '{{#label}} must name a template, or be a map with template (and optionally subject and from)' });

const step = Joi.object({
  id: id.required(),
  next: id,
  // A string must be a duration (and gets the duration's own message); anything else an until map.
  wait: Joi.alternatives().conditional(Joi.string(), {
    then: duration,
    otherwise: Joi.object({ until: Joi.object({ days: weekdays.default([...WEEKDAYS]), time: clock.required() }).required() })
      .messages({ 'object.base': '{{#label}} must be a duration such as 2d, or until: with time: "HH:MM" (and optionally days: [mon, …])' }),
  }),
  email: emailAction,
  branch: Joi.array().items(Joi.object({ if: condition.required(), then: id.required() })).min(1),
  else: Joi.when('branch', { is: Joi.exist(), then: id.required(), otherwise: Joi.forbidden() })
    .messages({ 'any.unknown': '{{#label}} only goes with branch' }),
  goal: Joi.object({ event: Joi.string().min(1).max(100).required(), where: propertyFilter, within: duration.required() }),
  update_lead: Joi.object({
    set: Joi.object().pattern(Joi.string().valid(...LEAD_FIELDS.filter((field) => field !== 'email')), Joi.alternatives(Joi.string(), Joi.number(), Joi.boolean(), null)),
    add_tags: Joi.array().items(Joi.string().min(1).max(64)).min(1),
    remove_tags: Joi.array().items(Joi.string().min(1).max(64)).min(1),
  }).or('set', 'add_tags', 'remove_tags'),
  // `secret` names a signing secret configured as BATON_WEBHOOK_SECRET_<NAME>; without it, BATON_WEBHOOK_SECRET signs.
  webhook: Joi.object({ url: Joi.string().uri({ scheme: ['https', 'http'] }).required(), secret: Joi.string().pattern(/^[a-z][a-z0-9_]{0,31}$/).messages({ 'string.pattern.base': '{{#label}} must name a configured secret: lower-case letters, digits and _ (BATON_WEBHOOK_SECRET_<NAME> holds it)' }) }),
  // Arm ids unique and `next` targets that exist are checked with the other references (sequence-checks.ts).
  split: Joi.object({
    arms: Joi.array().items(Joi.object({
      id: id.required(),
      weight: Joi.number().positive().max(1_000_000).required().messages({ 'number.positive': '{{#label}} must be a positive number (weights are relative: 50 and 50, or 1 and 3)' }),
      next: id.required(),
    })).min(2).max(10).required().messages({ 'array.min': '{{#label}} needs at least 2 arms', 'array.max': '{{#label}} has more than 10 arms' }),
    winner: Joi.object({
      metric: Joi.string().valid(...EXPERIMENT_METRICS).required().messages({ 'any.only': '{{#label}} "{{#value}}" is not a metric; use {{#valids}}' }),
      after: Joi.number().integer().min(1).required(),
      min_probability: Joi.number().greater(0.5).less(1).default(0.95),
    }),
  }),
  // `handoff: true`, or a map with the reason the rep reads in the briefing.
  handoff: Joi.alternatives(Joi.boolean().valid(true), Joi.object({ reason: Joi.string().trim().min(1).max(300) }))
    .messages({ 'alternatives.types': '{{#label}} must be true, or a map with reason: (what the rep reads in the briefing)', 'alternatives.match': '{{#label}} must be true, or a map with reason: (what the rep reads in the briefing)' }),
  end: Joi.boolean().valid(true),
})
  .xor(...STEP_ACTIONS)
  .messages({
    'object.xor': `{{#label}} must have exactly one action: ${ACTION_LIST}`,
    'object.missing': `{{#label}} must have exactly one action: ${ACTION_LIST}`,
  });

export const sequenceFileSchema = Joi.object({
  id: id.required(),
  name: Joi.string().min(1).max(200).required(),
  version: Joi.number().integer().min(1).required(),
  description: Joi.string().max(2000).allow('').default(''),
  status: Joi.string().valid('active', 'paused').default('active'),
  priority: Joi.number().integer().min(0).max(1000).default(0),
  topic: id,
  entry: Joi.object({
    trigger: trigger.required(),
    conditions: Joi.array().items(condition).default([]),
    reentry: Joi.alternatives(Joi.string().valid('never'), Joi.object({ after: duration.required() })).default('never')
      .messages({ 'alternatives.types': '{{#label}} must be never, or after: with a duration such as 90d', 'alternatives.match': '{{#label}} must be never, or after: with a duration such as 90d' }),
  }).required(),
  goals: Joi.array().items(Joi.object({ event: Joi.string().min(1).max(100).required(), where: propertyFilter })).default([]),
  send_window: Joi.object({ days: weekdays.required(), hours: Joi.string().pattern(/^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$/).required()
    .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be HH:MM-HH:MM, e.g. 09:00-17:30' }), timezone: timeZone.default('UTC') }),
  // "10%": the share of entrants held out of every email of the sequence (experiments, docs/sequences.md).
  holdout: Joi.string().pattern(/^\d{1,2}(\.\d{1,2})?%$/).custom((value: string, helpers) => (Number(value.slice(0, -1)) > 50 ? helpers.error('holdout.range') : value))
    .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be a percentage such as 10%', 'string.base': '{{#label}} must be a percentage such as 10%', 'holdout.range': '{{#label}} "{{#value}}" is more than 50%: a holdout is the smaller group' }),
  steps: Joi.array().items(step).min(1).required(),
  // UTM tags on the sequence's tracked links (docs/sequences.md); false or absent: none.
  utm: Joi.alternatives(Joi.boolean().valid(false), Joi.object({ source: Joi.string().min(1).max(100).default('baton'), medium: Joi.string().min(1).max(100).default('email') }))
    .messages({ 'alternatives.types': '{{#label}} must be false, or source: and medium: (utm_campaign and utm_content are the sequence and step ids)', 'alternatives.match': '{{#label}} must be false, or source: and medium: (utm_campaign and utm_content are the sequence and step ids)' }),
});
