import Joi from 'joi';
import { emailSchema, uuidSchema } from '../leads/leads.schemas.js';
import { RESERVED_EVENT_TYPE, type EventInput } from './event.js';

export const MAX_EVENTS_PER_BATCH = 1000;
const MAX_PROPERTIES_BYTES = 16_384;
// Clients' clocks drift; an event dated further ahead than this is a bug on their side.
const MAX_FUTURE_SKEW_MS = 5 * 60 * 1000;

const eventType = Joi.string()
  .pattern(/^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/)
  .custom((value: string, helpers) => (RESERVED_EVENT_TYPE.test(value) ? helpers.error('type.reserved') : value))
  .messages({
    'string.pattern.base': '{{#label}} must start with a letter and hold only letters, digits and _ . : - (at most 100 characters)',
    'type.reserved': '{{#label}} {{#value}} is recorded by Baton itself; types starting with email_, handoff_ or baton_, and unsubscribed, are reserved',
  });

const properties = Joi.object()
  .pattern(Joi.string().min(1).max(100), Joi.any())
  .max(100)
  .custom((value: Record<string, unknown>, helpers) =>
    Buffer.byteLength(JSON.stringify(value)) <= MAX_PROPERTIES_BYTES ? value : helpers.error('properties.size'),
  )
  .messages({ 'properties.size': `{{#label}} must serialise to at most ${MAX_PROPERTIES_BYTES} bytes of JSON` });

const occurredAt = Joi.date()
  .iso()
  .min('2000-01-01T00:00:00Z')
  .custom((value: Date, helpers) => (value.getTime() - Date.now() > MAX_FUTURE_SKEW_MS ? helpers.error('date.future') : value))
  .messages({ 'date.future': '{{#label}} must not be more than 5 minutes in the future' });

export const eventInputSchema = Joi.object<EventInput>({
  leadId: uuidSchema,
  email: emailSchema,
  type: eventType.required(),
  properties: properties.default({}),
  occurredAt: occurredAt.default(() => new Date()),
})
  .xor('leadId', 'email')
  .messages({
    'object.missing': '{{#label}} must identify the lead with leadId or email',
    'object.xor': '{{#label}} must identify the lead with leadId or email, not both',
  })
  .required();

export const eventBatchSchema = Joi.array<EventInput[]>()
  .items(eventInputSchema)
  .min(1)
  .max(MAX_EVENTS_PER_BATCH)
  .messages({ 'array.max': `a batch holds at most ${MAX_EVENTS_PER_BATCH} events`, 'array.min': 'a batch holds at least one event' });

/** What POST /api/events takes, for the API document: one event, or a batch. */
export const eventsBodySchema = Joi.alternatives(eventInputSchema, eventBatchSchema);

export interface TimelineQuery {
  limit: number;
  cursor?: string;
  type?: string;
}

export const timelineQuerySchema = Joi.object<TimelineQuery>({
  limit: Joi.number().integer().min(1).max(200).default(50),
  cursor: Joi.string().max(500),
  type: Joi.string()
    .pattern(/^[A-Za-z][A-Za-z0-9_.:-]{0,99}$/)
    .messages({ 'string.pattern.base': '{{#label}} is not an event type' }),
});
