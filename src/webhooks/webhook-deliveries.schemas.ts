import Joi from 'joi';
import { LIFECYCLE_EVENT_TYPES } from './lifecycle-events.js';
import type { DeliveryListQuery } from './webhook-deliveries.repository.js';

/** Delivery ids are positive whole numbers; 18 digits at most keeps them inside a bigint. */
const deliveryId = Joi.string()
  .pattern(/^[1-9]\d{0,17}$/)
  .messages({ 'string.pattern.base': '{{#label}} must be a delivery id (a positive whole number)' });

export const deliveryParams = Joi.object<{ id: string }>({ id: deliveryId.required() });

export const deliveryListQuery = Joi.object<Omit<DeliveryListQuery, 'before'> & { cursor?: string }>({
  status: Joi.string().valid('pending', 'delivered', 'failed'),
  type: Joi.string().valid(...LIFECYCLE_EVENT_TYPES),
  endpoint: Joi.string()
    .pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .messages({ 'string.pattern.base': '{{#label}} must be an endpoint id from webhooks.yaml (lower-case letters, digits, - and _)' }),
  limit: Joi.number().integer().min(1).max(200).default(50),
  cursor: deliveryId.messages({ 'string.pattern.base': '{{#label}} must be a nextCursor value returned by a previous page' }),
});

export const redeliverBody = Joi.object({}).default({});
