import type Joi from 'joi';
import { MAX_LISTED_PROBLEMS, validationError, type FieldProblem } from '../errors.js';
import { findUnstorableText } from './text-safety.js';

type Location = 'body' | 'query' | 'path';

const JOI_OPTIONS: Joi.ValidationOptions = {
  abortEarly: false,
  convert: true,
  errors: { wrap: { label: false } },
};

/** Validates one part of a request; throws validation_failed naming every bad field. */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, location: Location): T {
  refuseManyUnknownKeys(schema, value, location);
  const unstorable = findUnstorableText(value);
  if (unstorable) {
    const field = unstorable.path.length > 0 ? formatPath(unstorable.path) : `(${location})`;
    throw validationError([{ field, location, message: `${field} ${unstorable.message}` }]);
  }
  const result = schema.validate(value, JOI_OPTIONS);
  if (result.error) throw validationError(toFieldProblems(result.error, location));
  return result.value;
}

/*
 * Joi and the text check spend ~14 µs on each unknown key: 0.8 s for the 60,000 of a 1.2 MB body,
 * on the event loop, stalling /health (issue 16). When the top level (or the objects of a top-level
 * array) alone have more unknown keys than an error lists, those are the answer, found in a few
 * milliseconds: Joi would add nothing anyone reads.
 */
const closedKeySets = new WeakMap<Joi.Schema, ReadonlySet<string> | null>();

function closedKeys(description: Joi.Description): ReadonlySet<string> | null {
  const unknownAllowed = description.flags !== undefined && 'unknown' in description.flags && description.flags.unknown === true;
  const keys: unknown = description.keys;
  const closed =
    description.type === 'object' &&
    typeof keys === 'object' &&
    keys !== null &&
    description.patterns === undefined &&
    description.renames === undefined &&
    description.whens === undefined &&
    !unknownAllowed;
  return closed ? new Set(Object.keys(keys)) : null;
}

/** The keys allowed in the value's objects: the schema's own, or those of its array items. */
function allowedKeys(schema: Joi.Schema): ReadonlySet<string> | null {
  if (!closedKeySets.has(schema)) {
    const description = schema.describe();
    const items: unknown = description.items;
    const item = description.type === 'array' && Array.isArray(items) && items.length === 1 ? (items[0] as Joi.Description) : null;
    closedKeySets.set(schema, item ? closedKeys(item) : closedKeys(description));
  }
  return closedKeySets.get(schema) ?? null;
}

function refuseManyUnknownKeys(schema: Joi.Schema, value: unknown, location: Location): void {
  if (typeof value !== 'object' || value === null) return;
  const known = allowedKeys(schema);
  if (!known) return;
  const objects: Array<[prefix: string, item: unknown]> = Array.isArray(value) ? value.map((item, index) => [`[${index}].`, item]) : [['', value]];
  const problems: FieldProblem[] = [];
  let count = 0;
  for (const [prefix, item] of objects) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) continue;
    for (const key of Object.keys(item)) {
      if (known.has(key)) continue;
      count += 1;
      if (problems.length < MAX_LISTED_PROBLEMS) problems.push({ field: `${prefix}${key}`, location, message: `${prefix}${key} is not allowed` });
    }
  }
  if (count > MAX_LISTED_PROBLEMS) throw validationError(problems, count);
}

export function toFieldProblems(error: Joi.ValidationError, location: FieldProblem['location']): FieldProblem[] {
  return error.details.map((detail) => {
    const field = detail.path.length > 0 ? formatPath(detail.path) : location === 'body' ? '(body)' : `(${location})`;
    return { field, location, message: detail.path.length > 0 ? detail.message : `${field}: ${detail.message}` };
  });
}

function formatPath(segments: Array<string | number>): string {
  return segments.reduce<string>((joined, segment) => {
    if (typeof segment === 'number') return `${joined}[${segment}]`;
    return joined === '' ? segment : `${joined}.${segment}`;
  }, '');
}
