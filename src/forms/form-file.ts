import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import Joi from 'joi';
import { fileId, parseYamlFile, regexPattern, type FileProblem } from '../platform/config-file-schemas.js';
import { tagSchema } from '../leads/leads.schemas.js';
import { FIELD_TYPES, RESERVED_FIELD_NAMES, type FormDefinition, type FormField } from './form.js';

/*
 * forms/*.yaml: the forms a marketer puts on the site. Parsed with positions and validated like
 * sequences: every problem in every file at once, as file:line path: message.
 *
 *   id: demo
 *   title: Book a demo
 *   fields:
 *     - { name: email, label: Work email, type: email, required: true }
 *   consent: { version: demo-2026-12, text: "I agree that …", required: true }
 *   tags: [demo-request]
 *   thank_you: { message: "Thanks! A member of our team will be in touch." }
 */

export type LoadFormsResult = { ok: true; forms: FormDefinition[] } | { ok: false; problems: Array<FileProblem & { file: string }> };

interface RawForm {
  id: string;
  title: string;
  description: string;
  submit_label: string;
  fields: Array<{
    name: string;
    label: string;
    type: FormField['type'];
    required: boolean;
    max_length: number;
    pattern?: string;
    pattern_message?: string;
    options: string[];
    help?: string;
  }>;
  consent?: { version: string; text: string; required: boolean };
  tags: string[];
  sequence?: string;
  double_opt_in: boolean;
  thank_you: { message?: string; redirect?: string };
  allowed_origins: string[];
  min_fill_seconds: number;
}

const FIELD_KEYS = 'name, label, type, required, max_length, pattern, pattern_message, options, help';
const FORM_KEYS = 'id, title, description, submit_label, fields, consent, tags, sequence, double_opt_in, thank_you, allowed_origins, min_fill_seconds';

/** `sequenceIds` null: the sequences did not load, so a form's sequence is not checked (their own problems are). */
function formSchema(sequenceIds: readonly string[] | null): Joi.ObjectSchema<RawForm> {
  const field = Joi.object({
    name: Joi.string()
      .pattern(/^[a-z][a-z0-9_]{0,39}$/)
      .invalid(...RESERVED_FIELD_NAMES)
      .required()
      .messages({
        'string.pattern.base': '{{#label}} "{{#value}}" must be lower-case letters, digits and _ (at most 40), starting with a letter',
        'any.invalid': `{{#label}} "{{#value}}" is kept for Baton's own use (${RESERVED_FIELD_NAMES.join(', ')})`,
      }),
    label: Joi.string().trim().min(1).max(200).required(),
    type: Joi.string()
      .valid(...FIELD_TYPES)
      .default('text')
      .messages({ 'any.only': `{{#label}} "{{#value}}" is not a field type; expected one of: ${FIELD_TYPES.join(', ')}` }),
    required: Joi.boolean().default(false),
    max_length: Joi.number().integer().min(1).max(5000).default(200),
    pattern: regexPattern,
    pattern_message: Joi.string().max(200),
    options: Joi.array().items(Joi.string().min(1).max(200)).unique().default([]),
    help: Joi.string().max(500),
  })
    .custom((value: RawForm['fields'][number], helpers) => {
      if (value.type === 'select' && value.options.length === 0) return helpers.error('field.options');
      if (value.type !== 'select' && value.options.length > 0) return helpers.error('field.strayOptions');
      if (value.name === 'email' && value.type !== 'email') return helpers.error('field.emailType');
      return value;
    })
    .messages({
      'object.unknown': `{{#label}} is not a known key; expected one of: ${FIELD_KEYS}`,
      'field.options': '{{#label}} is a select, so it needs options',
      'field.strayOptions': '{{#label}} has options, which only a select takes',
      'field.emailType': '{{#label}} is the email field, so its type must be email',
    });

  return Joi.object<RawForm>({
    id: fileId
      .invalid('confirm')
      .required()
      .messages({ 'any.invalid': '{{#label}} "confirm" is taken by the confirmation links (/forms/confirm/…); choose another id' }),
    title: Joi.string().trim().min(1).max(200).required(),
    description: Joi.string().max(2000).allow('').default(''),
    submit_label: Joi.string().trim().min(1).max(60).default('Submit'),
    fields: Joi.array()
      .items(field)
      .min(1)
      .unique('name')
      .required()
      .custom((fields: RawForm['fields'], helpers) =>
        fields.some((candidate) => candidate.name === 'email' && candidate.required) ? fields : helpers.error('fields.email'),
      )
      .messages({
        'array.unique': '{{#label}} repeats the name of another field',
        'fields.email': '{{#label}} must include a required field named email: a lead is known by its address',
      }),
    consent: Joi.object({
      version: Joi.string().trim().min(1).max(100).required(),
      text: Joi.string().trim().min(1).max(5000).required(),
      required: Joi.boolean().default(true),
    }).messages({ 'object.unknown': '{{#label}} is not a known key; expected one of: version, text, required' }),
    tags: Joi.array().items(tagSchema).max(20).unique().default([]),
    sequence: Joi.string()
      .custom((value: string, helpers) => (sequenceIds === null || sequenceIds.includes(value) ? value : helpers.error('sequence.unknown')))
      .messages({ 'sequence.unknown': `{{#label}} "{{#value}}" is not a loaded sequence; expected one of: ${sequenceIds?.join(', ') || '(none loaded)'}` }),
    double_opt_in: Joi.boolean().default(false),
    thank_you: Joi.object({
      message: Joi.string().trim().min(1).max(2000),
      redirect: Joi.string()
        .uri({ scheme: ['https', 'http'] })
        .max(2000),
    })
      .xor('message', 'redirect')
      .required()
      .messages({ 'object.xor': '{{#label}} takes either a message or a redirect, not both', 'object.missing': '{{#label}} needs a message or a redirect' }),
    allowed_origins: Joi.array()
      .items(
        Joi.string()
          .uri({ scheme: ['https', 'http'] })
          .custom((value: string, helpers) => (new URL(value).origin === value ? value : helpers.error('origin.path')))
          .messages({ 'origin.path': '{{#label}} "{{#value}}" must be an origin only: scheme, host and port, e.g. https://www.example.com' }),
      )
      .unique()
      .default([]),
    min_fill_seconds: Joi.number().min(0).max(600).default(3),
  })
    .custom((value: RawForm, helpers) => (value.double_opt_in && !value.consent ? helpers.error('form.doubleOptIn') : value))
    .messages({
      'object.unknown': `{{#label}} is not a known key; expected one of: ${FORM_KEYS}`,
      'form.doubleOptIn': 'double_opt_in needs a consent section: the confirmation proves agreement to its wording',
    });
}

export function parseFormFile(
  text: string,
  file: string,
  sequenceIds: readonly string[] | null,
): { ok: true; form: FormDefinition } | { ok: false; problems: FileProblem[] } {
  const parsed = parseYamlFile(text, formSchema(sequenceIds));
  if (!parsed.ok) return parsed;
  const raw = parsed.value;
  return {
    ok: true,
    form: {
      id: raw.id,
      title: raw.title,
      description: raw.description,
      submitLabel: raw.submit_label,
      fields: raw.fields.map((field) => ({
        name: field.name,
        label: field.label,
        type: field.type,
        required: field.required,
        maxLength: field.max_length,
        pattern: field.pattern ? { regex: field.pattern, message: field.pattern_message ?? `${field.label} is not in the expected format` } : null,
        options: field.options,
        help: field.help ?? null,
      })),
      consent: raw.consent ?? null,
      tags: raw.tags,
      sequence: raw.sequence ?? null,
      doubleOptIn: raw.double_opt_in,
      thankYou: raw.thank_you.redirect ? { kind: 'redirect', url: raw.thank_you.redirect } : { kind: 'message', message: raw.thank_you.message ?? '' },
      allowedOrigins: raw.allowed_origins,
      minFillSeconds: raw.min_fill_seconds,
      file,
    },
  };
}

/**
 * Every *.yaml / *.yml in dir (names starting with _ are not forms). A missing dir means no forms,
 * unless it was named explicitly (BATON_FORMS_DIR).
 */
export async function loadForms(dir: string, sequenceIds: readonly string[] | null, mustExist = false): Promise<LoadFormsResult> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((file) => /\.ya?ml$/.test(file) && !file.startsWith('_')).sort();
  } catch {
    return mustExist
      ? { ok: false, problems: [{ file: dir, line: null, path: '', message: 'the forms directory (BATON_FORMS_DIR) does not exist' }] }
      : { ok: true, forms: [] };
  }
  const problems: Array<FileProblem & { file: string }> = [];
  const forms: FormDefinition[] = [];
  const seen = new Map<string, string>();
  for (const name of files) {
    const file = path.join(dir, name);
    const result = parseFormFile(await readFile(file, 'utf8'), file, sequenceIds);
    if (!result.ok) {
      problems.push(...result.problems.map((problem) => ({ ...problem, file })));
      continue;
    }
    const other = seen.get(result.form.id);
    if (other) problems.push({ file, line: null, path: 'id', message: `id "${result.form.id}" is also used by ${other}` });
    seen.set(result.form.id, file);
    forms.push(result.form);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, forms };
}
