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
 * on the event loop, stalling /health (issue 16). When the top level alone has more unknown keys
 * than an error lists, those are the answer, found in ~50 ms: Joi would add nothing anyone reads.
 */
const closedKeySets = new WeakMap<Joi.Schema, ReadonlySet<string> | null>();

function closedKeys(schema: Joi.Schema): ReadonlySet<string> | null {
  if (!closedKeySets.has(schema)) {
    const description = schema.describe();
    const closed = description.type === 'object' && description.keys !== undefined && description.patterns === undefined && description.renames === undefined && description.whens === undefined && !(description.flags && 'unknown' in description.flags && description.flags.unknown === true);
    closedKeySets.set(schema, closed ? new Set(Object.keys(description.keys)) : null);
  }
  return closedKeySets.get(schema) ?? null;
}

function refuseManyUnknownKeys(schema: Joi.Schema, value: unknown, location: Location): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return;
  const known = closedKeys(schema);
  if (!known) return;
  const unknown = Object.keys(value).filter((key) => !known.has(key));
  if (unknown.length <= MAX_LISTED_PROBLEMS) return;
  throw validationError(unknown.map((key) => ({ field: key, location, message: `${key} is not allowed` })));
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
