import Joi from 'joi';
import { canonicalTimeZone } from '../platform/time-zones.js';
import type { LeadFields, LeadInput } from './lead.js';

const MAX_TRAITS_BYTES = 16_384;

/** A phone number as people write it, with an optional extension. */
export const PHONE_PATTERN = /^[+0-9 ().\-/x]+(?:\s*(?:ext\.?|extension|#|,)\s*[0-9]{1,10})?$/i;

export const uuidSchema = Joi.string()
  .guid({ version: ['uuidv4', 'uuidv7'] })
  .lowercase();

export const emailSchema = Joi.string().trim().max(254).email({ tlds: false, minDomainSegments: 2 });

const text = (max: number) => Joi.string().trim().max(max).allow(null);

const timeZone = Joi.string()
  .trim()
  .max(64)
  .allow(null)
  .custom((value: string, helpers) => {
    return canonicalTimeZone(value) ?? helpers.error('timezone.unknown');
  })
  .messages({ 'timezone.unknown': '{{#label}} must be an IANA time zone such as Europe/Paris or America/New_York' });

const traits = Joi.object()
  .pattern(Joi.string().min(1).max(100), Joi.any())
  .max(200)
  .custom((value: Record<string, unknown>, helpers) => {
    return Buffer.byteLength(JSON.stringify(value)) <= MAX_TRAITS_BYTES ? value : helpers.error('traits.size');
  })
  .messages({ 'traits.size': `{{#label}} must serialise to at most ${MAX_TRAITS_BYTES} bytes of JSON` });

export const tagSchema = Joi.string()
  .trim()
  .min(1)
  .max(64)
  .pattern(/^[^,;|]+$/)
  .messages({ 'string.pattern.base': '{{#label}} must not contain , ; or |' });

const consent = Joi.object({
  status: Joi.string().valid('granted', 'denied', 'withdrawn').required(),
  source: Joi.string().trim().min(1).max(200).required(),
  at: Joi.date().iso().max('now').required().messages({ 'date.max': '{{#label}} must not be in the future' }),
  text: Joi.string().max(5000),
}).allow(null);

const leadFields = {
  firstName: text(200),
  lastName: text(200),
  company: text(200),
  title: text(200),
  // Kept as given, extension included: "+1 (555) 010-2030 ext. 42", "020 7946 0958 x7", "…#12".
  phone: text(50)
    .pattern(PHONE_PATTERN)
    .messages({ 'string.pattern.base': '{{#label}} may hold digits, spaces and + ( ) . - / x, then an extension (ext. 42, x42, #42)' }),
  timezone: timeZone,
  country: Joi.string()
    .trim()
    .uppercase()
    .pattern(/^[A-Z]{2}$/)
    .allow(null)
    .messages({ 'string.pattern.base': '{{#label}} must be a two-letter ISO 3166 country code such as FR' }),
  source: text(200),
  traits,
  tags: Joi.array().items(tagSchema).max(100).unique(),
  consent,
  unsubscribed: Joi.boolean().valid(true).messages({ 'any.only': '{{#label}} can only be set to true: an opt-out is never undone through the API' }),
};

export const leadInputSchema = Joi.object<LeadInput>({ email: emailSchema.required(), ...leadFields }).required();

export const leadPatchSchema = Joi.object<LeadFields & { email?: string }>({ email: emailSchema, ...leadFields })
  .min(1)
  .messages({ 'object.min': 'body must set at least one field' })
  .required();

export const leadIdParamsSchema = Joi.object<{ id: string }>({ id: uuidSchema.required() });

export interface LeadListQuery {
  email?: string;
  tag?: string;
  q?: string;
  limit: number;
  cursor?: string;
}

export const leadListQuerySchema = Joi.object<LeadListQuery>({
  email: emailSchema,
  tag: tagSchema,
  q: Joi.string().trim().min(1).max(200),
  limit: Joi.number().integer().min(1).max(200).default(50),
  cursor: Joi.string().max(500),
});

/** GET /api/leads/export.csv: the list filters, and `bom=true` for Excel (a UTF-8 byte order mark first). */
export interface ExportQuery {
  email?: string;
  tag?: string;
  q?: string;
  bom: boolean;
}

export const exportQuerySchema: Joi.ObjectSchema<ExportQuery> = Joi.object({
  email: emailSchema,
  tag: tagSchema,
  q: Joi.string().trim().min(1).max(200),
  bom: Joi.boolean().default(false),
});
