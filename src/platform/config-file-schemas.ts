import Joi from 'joi';

/* Joi pieces shared by the marketer-authored YAML files (scoring, topics). */

/** A rule or topic id: what briefings, breakdowns and counters are keyed by. */
export const fileId = Joi.string().pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
  .messages({ 'string.pattern.base': '{{#label}} "{{#value}}" must be lower-case letters, digits, - and _' });

/** A case-insensitive regular expression, refused at load rather than failing at match time. */
export const regexPattern = Joi.string().min(1).max(500).custom((value: string, helpers) => {
  try {
    new RegExp(value, 'i');
    return value;
  } catch {
    return helpers.error('regex.invalid');
  }
}).messages({ 'regex.invalid': '{{#label}} "{{#value}}" is not a valid regular expression' });
