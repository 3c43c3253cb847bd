import Joi from 'joi';

/* Joi schemas for the experiment results API. */

export const experimentsParams = Joi.object<{ id: string }>({
  id: Joi.string()
    .pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .required()
    .messages({ 'string.pattern.base': 'id is not a sequence id (lower-case letters, digits, - and _, up to 64)' }),
});

/** No query parameters: a typo (`?metrc=click`) is refused, not silently ignored. */
export const experimentsQuery = Joi.object<Record<string, never>>({});
