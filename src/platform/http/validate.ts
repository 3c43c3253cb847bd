import type Joi from 'joi';
import { validationError, type FieldProblem } from '../errors.js';
import { findUnstorableText } from './text-safety.js';

type Location = 'body' | 'query' | 'path';

const JOI_OPTIONS: Joi.ValidationOptions = {
  abortEarly: false,
  convert: true,
  errors: { wrap: { label: false } },
};

/** Validates one part of a request; throws validation_failed naming every bad field. */
export function validate<T>(schema: Joi.Schema<T>, value: unknown, location: Location): T {
  const unstorable = findUnstorableText(value);
  if (unstorable) {
    const field = unstorable.path.length > 0 ? formatPath(unstorable.path) : `(${location})`;
    throw validationError([{ field, location, message: `${field} ${unstorable.message}` }]);
  }
  const result = schema.validate(value, JOI_OPTIONS);
  if (result.error) throw validationError(toFieldProblems(result.error, location));
  return result.value;
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
