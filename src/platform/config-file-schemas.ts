import Joi from 'joi';
import { LineCounter, parseDocument } from 'yaml';
import { yamlProblems, yamlValue } from './yaml-value.js';

/* What the marketer-authored YAML files (scoring, topics, personas) share: parsing and Joi pieces. */

/** A rule or topic id: what briefings, breakdowns and counters are keyed by. */
export const fileId = Joi.string()
  .pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
  .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be lower-case letters, digits, - and _' });

/** A case-insensitive regular expression, refused at load rather than failing at match time. */
export const regexPattern = Joi.string()
  .min(1)
  .max(500)
  .custom((value: string, helpers) => {
    try {
      new RegExp(value, 'i');
      return value;
    } catch {
      return helpers.error('regex.invalid');
    }
  })
  .messages({ 'regex.invalid': '{{#label}} "{{#value}}" is not a valid regular expression' });

export interface FileProblem {
  line: number | null;
  path: string;
  message: string;
}

/**
 * Parses YAML and validates it with `schema`: the validated value, or every problem at once,
 * each with its line (from the YAML positions) and path.
 */
export function parseYamlFile<T>(text: string, schema: Joi.Schema<T>): { ok: true; value: T } | { ok: false; problems: FileProblem[] } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (document.errors.length > 0) return { ok: false, problems: yamlProblems(document.errors, text).map((problem) => ({ ...problem, path: '' })) };
  const plain = yamlValue(document, lineCounter);
  if (!plain.ok) return { ok: false, problems: [{ line: plain.line, path: '', message: plain.message }] };
  // Not destructured: Joi types a failed result's value `any`; narrowed on `error`, it is typed.
  const validated = schema.validate(plain.value, { abortEarly: false, errors: { wrap: { label: false } } });
  if (!validated.error) return { ok: true, value: validated.value };
  return {
    ok: false,
    problems: validated.error.details.map((detail) => {
      const where = formatPath(detail.path);
      const node = document.getIn(detail.path, true) as { range?: [number, number, number] } | undefined;
      const message = detail.message.startsWith(`${where} `) ? detail.message.slice(where.length + 1) : detail.message;
      return { line: node?.range ? lineCounter.linePos(node.range[0]).line : null, path: where, message };
    }),
  };
}

/** A Joi error path as a marketer reads it: `steps[2].wait`. */
export function formatPath(segments: Array<string | number>): string {
  return segments.reduce<string>((joined, segment) => (typeof segment === 'number' ? `${joined}[${segment}]` : joined ? `${joined}.${segment}` : segment), '');
}
