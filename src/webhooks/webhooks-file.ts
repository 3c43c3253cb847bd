import Joi from 'joi';
import { fileId, parseYamlFile, type FileProblem } from '../platform/config-file-schemas.js';
import { checkDestinationUrl } from './destination-guard.js';
import { EVENT_FILTER_CHOICES, expandEventFilter, type LifecycleEventType } from './lifecycle-events.js';
import { parseWebhookSecret } from './webhook-signature.js';

/*
 * webhooks.yaml: the endpoints told of lifecycle events. Checked at start like the other files,
 * every problem at once with its line. Secrets are best kept out of the file: `${NAME}` reads a
 * BATON_WEBHOOK_SECRET_* variable, which the configuration has already validated.
 *
 *   endpoints:
 *     - id: crm
 *       url: https://crm.example.com/hooks/baton
 *       events: [lead.*, handoff.converted]
 *       secret: ${BATON_WEBHOOK_SECRET_CRM}
 */

export interface WebhookEndpoint {
  id: string;
  url: string;
  events: LifecycleEventType[];
  /** `whsec_…`, newest first; several while a secret is being rotated. */
  secrets: string[];
}

export interface WebhooksFileOptions {
  /** BATON_WEBHOOK_SECRET ('') and BATON_WEBHOOK_SECRET_<NAME> (lower-case name), from the configuration. */
  secrets: Record<string, string>;
  /** Plain http allowed (not in production). */
  allowInsecure: boolean;
}

export type ParseWebhooksResult = { ok: true; endpoints: WebhookEndpoint[] } | { ok: false; problems: FileProblem[] };

const VARIABLE = /^\$\{([A-Za-z0-9_]+)\}$/;
const SECRET_VARIABLE = /^BATON_WEBHOOK_SECRET(?:_([A-Z0-9_]{1,32}))?$/;

function endpointsSchema({ secrets, allowInsecure }: WebhooksFileOptions) {
  const url = Joi.string()
    .max(2000)
    .custom((value: string, helpers) => {
      const checked = checkDestinationUrl(value, { allowPrivate: true, allowInsecure });
      return checked.ok ? value : helpers.error('url.invalid', { reason: checked.reason });
    })
    .messages({ 'url.invalid': '{{#label}} {{#reason}}' });

  const filter = Joi.string()
    .custom((value: string, helpers) => (expandEventFilter(value).length > 0 ? value : helpers.error('event.unknown')))
    .messages({ 'event.unknown': `{{#label}} "{{#value}}" is not an event; expected one of: ${EVENT_FILTER_CHOICES.join(', ')}` });

  // Messages never repeat a secret's value: they are printed at start and by `baton validate`.
  const secret = Joi.string()
    .custom((value: string, helpers) => {
      const variable = VARIABLE.exec(value)?.[1];
      if (variable !== undefined) {
        const match = SECRET_VARIABLE.exec(variable);
        if (!match) return helpers.error('secret.variable', { variable });
        const resolved = secrets[match[1]?.toLowerCase() ?? ''];
        return resolved ?? helpers.error('secret.unset', { variable });
      }
      const parsed = parseWebhookSecret(value);
      return parsed.ok ? value : helpers.error('secret.invalid', { reason: parsed.message });
    })
    .messages({
      'secret.variable':
        '{{#label}} {{#variable}} cannot be used; a secret may name BATON_WEBHOOK_SECRET or BATON_WEBHOOK_SECRET_<NAME>, which are checked at start',
      'secret.unset': '{{#label}} {{#variable}} is not set (whsec_ + base64)',
      'secret.invalid': '{{#label}} {{#reason}}',
    });

  const known = 'id, url, events, secret, description';
  const endpoint = Joi.object({
    id: fileId.required(),
    url: url.required(),
    events: Joi.array().items(filter).min(1).required().messages({ 'array.min': '{{#label}} must list at least one event, or "*" for all' }),
    secret: Joi.alternatives(secret, Joi.array().items(secret).min(1).max(5))
      .required()
      .messages({ 'alternatives.types': '{{#label}} must be a secret or a list of secrets (newest first)' }),
    description: Joi.string().max(500),
  }).messages({ 'object.base': `{{#label}} must be a map of ${known}`, 'object.unknown': `{{#label}} is not a known key; expected one of: ${known}` });

  return Joi.object({
    endpoints: Joi.array()
      .items(endpoint)
      .unique('id')
      .default([])
      .messages({ 'array.unique': '{{#label}} repeats the id of another endpoint', 'array.base': '{{#label}} must be a list of endpoints' }),
  }).messages({ 'object.base': 'the file must be a map with the key endpoints', 'object.unknown': '{{#label}} is not a known key; expected: endpoints' });
}

interface RawEndpoint {
  id: string;
  url: string;
  events: string[];
  secret: string | string[];
}

export function parseWebhooksFile(text: string, options: WebhooksFileOptions): ParseWebhooksResult {
  const parsed = parseYamlFile<{ endpoints: RawEndpoint[] }>(text, endpointsSchema(options));
  if (!parsed.ok) return parsed;
  return {
    ok: true,
    endpoints: parsed.value.endpoints.map((raw) => ({
      id: raw.id,
      url: raw.url,
      events: [...new Set(raw.events.flatMap(expandEventFilter))],
      secrets: Array.isArray(raw.secret) ? raw.secret : [raw.secret],
    })),
  };
}
