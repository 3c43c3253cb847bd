import Joi from 'joi';
import { leadInputSchema } from '../leads/leads.schemas.js';
import type { LeadInput } from '../leads/lead.js';
import { parseDuration } from '../sequences/duration.js';
import type { Sequence } from '../sequences/sequence.js';
import { parseYamlFile, type FileProblem } from '../platform/config-file-schemas.js';

/*
 * A persona for `baton simulate`: a lead and a script of what it does, in time relative to when
 * it enters the sequence or to when an email reaches it.
 *
 *   lead: { email: ada@example.com, firstName: Ada, title: VP Sales, country: US, timezone: America/New_York }
 *   start: 2026-01-05T14:00:00Z            # when it enters (default: Monday 2026-01-05 14:00 UTC)
 *   until: 30d                             # how long to simulate (default 60d)
 *   arms: { subject-test: long }           # the arm to take at a split step (default: the lead's hash)
 *   holdout: false                         # in the sequence's holdout group or not (default: the lead's hash)
 *   behaviour:
 *     - { email: welcome, open: 2h, click: 2h5m, url: https://example.com/pricing }
 *     - { at: 3d, event: page_view, properties: { path: /pricing } }
 */

export type PersonaAction =
  | { kind: 'email'; step: string; openAfterMs: number | null; clickAfterMs: number | null; url: string | null }
  | { kind: 'event'; afterMs: number; type: string; properties: Record<string, unknown> };

export interface Persona {
  lead: LeadInput;
  start: Date;
  untilMs: number;
  behaviour: PersonaAction[];
  /** Arms forced at split steps, by step id. */
  arms: Record<string, string>;
  /** Forces the lead in (true) or out of (false) the holdout group; null: as its hash says. */
  holdout: boolean | null;
}

export const DEFAULT_START = new Date('2026-01-05T14:00:00Z');

const duration = Joi.string()
  .custom((value: string, helpers) => (parseDuration(value) === null ? helpers.error('duration.invalid') : value))
  .messages({ 'duration.invalid': '{{#label}} "{{#value}}" is not a duration such as 2h or 3d (s, m, h, d or w)' });

const personaSchema = Joi.object({
  lead: leadInputSchema,
  start: Joi.date().iso(),
  until: duration.default('60d'),
  arms: Joi.object().pattern(Joi.string(), Joi.string()).default({}),
  holdout: Joi.boolean(),
  behaviour: Joi.array()
    .items(
      Joi.alternatives().conditional(Joi.object({ email: Joi.exist() }).unknown(), {
        then: Joi.object({ email: Joi.string().required(), open: duration, click: duration, url: Joi.string().uri({ scheme: ['http', 'https'] }) }).or(
          'open',
          'click',
        ),
        otherwise: Joi.object({
          at: duration.required(),
          event: Joi.string()
            .pattern(/^[a-z][a-z0-9_.:-]{0,99}$/i)
            .required(),
          properties: Joi.object().default({}),
        }),
      }),
    )
    .default([]),
});

export type ParsePersonaResult = { ok: true; persona: Persona } | { ok: false; problems: FileProblem[] };

export function parsePersona(text: string): ParsePersonaResult {
  const parsed = parseYamlFile(text, personaSchema);
  if (!parsed.ok) return parsed;
  const value = parsed.value as { lead: LeadInput; start?: Date; until: string; behaviour: unknown[]; arms: Record<string, string>; holdout?: boolean };
  type Raw = { email?: string; open?: string; click?: string; url?: string; at?: string; event?: string; properties?: Record<string, unknown> };
  const ms = (text: string | undefined) => (text === undefined ? null : parseDuration(text));
  return {
    ok: true,
    persona: {
      lead: value.lead as LeadInput,
      start: (value.start as Date | undefined) ?? DEFAULT_START,
      untilMs: parseDuration(value.until as string) ?? 0,
      arms: value.arms,
      holdout: value.holdout ?? null,
      behaviour: (value.behaviour as Raw[]).map((raw): PersonaAction =>
        raw.email !== undefined
          ? { kind: 'email', step: raw.email, openAfterMs: ms(raw.open), clickAfterMs: ms(raw.click), url: raw.url ?? null }
          : { kind: 'event', afterMs: ms(raw.at) ?? 0, type: raw.event ?? '', properties: raw.properties ?? {} },
      ),
    },
  };
}

/** Arms a persona forces that the sequence lacks: each names a split step and one of its arms. */
export function forcedArmProblems(persona: Persona, sequence: Sequence): string[] {
  return Object.entries(persona.arms).flatMap(([stepId, armId]) => {
    const step = sequence.steps.find((candidate) => candidate.id === stepId);
    if (step?.kind !== 'split') {
      const splits = sequence.steps.filter((candidate) => candidate.kind === 'split').map((candidate) => candidate.id);
      return [`arms: "${stepId}" is not a split step of ${sequence.id} (split steps: ${splits.join(', ') || 'none'})`];
    }
    const arms = step.split.arms.map((arm) => arm.id);
    return arms.includes(armId) ? [] : [`arms.${stepId}: "${armId}" is not an arm of that split (arms: ${arms.join(', ')})`];
  });
}
