/*
 * Joi schemas as JSON Schema (draft 2020-12, the dialect of OpenAPI 3.1), from Joi's own
 * description of each schema: the API document is generated from the schemas that validate the
 * requests, so the two cannot drift. What JSON Schema cannot say (custom checks such as a time
 * zone's existence, cross-field rules such as "leadId or email") is added to the description.
 */
import type Joi from 'joi';

export type JsonSchema = Record<string, unknown>;

interface Rule {
  name: string;
  args?: Record<string, unknown>;
}

interface Described {
  type?: string;
  flags?: Record<string, unknown>;
  keys?: Record<string, Described>;
  items?: Described[];
  matches?: Array<{ schema?: Described }>;
  patterns?: Array<{ schema?: Described; regex?: string; rule: Described }>;
  rules?: Rule[];
  allow?: unknown[];
  dependencies?: Array<{ rel: string; peers: string[] }>;
  [key: string]: unknown;
}

export function joiToJsonSchema(schema: Joi.Schema): JsonSchema {
  return convert(schema.describe() as Described);
}

/** Whether a key of an object schema must be present. */
export function isRequired(described: Described): boolean {
  return described.flags?.presence === 'required';
}

function convert(described: Described): JsonSchema {
  const flags = described.flags ?? {};
  const rules = described.rules ?? [];
  const notes: string[] = [];
  let json: JsonSchema;
  switch (described.type) {
    case 'object':
      json = objectSchema(described, notes);
      break;
    case 'array':
      json = arraySchema(described, rules);
      break;
    case 'string':
      json = stringSchema(rules, notes);
      break;
    case 'number':
      json = numberSchema(rules);
      break;
    case 'boolean':
      json = { type: 'boolean' };
      break;
    case 'date':
      json = { type: 'string', format: 'date-time' };
      break;
    case 'alternatives':
      json = { anyOf: (described.matches ?? []).flatMap((match) => (match.schema ? [convert(match.schema)] : [])) };
      break;
    default:
      // `any` and the rest: JSON Schema's "anything".
      json = {};
  }
  if (rules.some((rule) => rule.name === 'custom')) notes.push('further checked by Baton (see the error message for the rule)');
  const allowed = (described.allow ?? []).filter((value) => typeof value !== 'object' || value === null);
  if (flags.only === true && allowed.length > 0) {
    json = { ...json, enum: allowed.filter((value) => value !== null) };
    if (allowed.includes(null)) json = nullable(json);
  } else if (allowed.includes(null)) {
    json = nullable(json);
  }
  if (flags.default !== undefined && typeof flags.default !== 'function' && typeof flags.default !== 'object') json.default = flags.default;
  if (typeof flags.description === 'string') notes.unshift(flags.description);
  if (notes.length > 0) json.description = notes.join('; ');
  return json;
}

function nullable(json: JsonSchema): JsonSchema {
  if (typeof json.type === 'string')
    return { ...json, type: [json.type, 'null'], ...(Array.isArray(json.enum) ? { enum: [...(json.enum as unknown[]), null] } : {}) };
  return { anyOf: [json, { type: 'null' }] };
}

function objectSchema(described: Described, notes: string[]): JsonSchema {
  const json: JsonSchema = { type: 'object' };
  const keys = described.keys;
  if (keys) {
    json.properties = Object.fromEntries(Object.entries(keys).map(([name, child]) => [name, convert(child)]));
    const required = Object.entries(keys)
      .filter(([, child]) => isRequired(child))
      .map(([name]) => name);
    if (required.length > 0) json.required = required;
    if (described.flags?.unknown !== true && !described.patterns) json.additionalProperties = false;
  }
  const pattern = described.patterns?.[0];
  if (pattern) json.additionalProperties = convert(pattern.rule);
  for (const rule of described.rules ?? []) {
    if (rule.name === 'min') json.minProperties = rule.args?.limit;
    if (rule.name === 'max') json.maxProperties = rule.args?.limit;
  }
  for (const dependency of described.dependencies ?? []) {
    if (dependency.rel === 'xor') notes.push(`exactly one of ${dependency.peers.join(', ')}`);
    if (dependency.rel === 'or') notes.push(`at least one of ${dependency.peers.join(', ')}`);
  }
  return json;
}

function arraySchema(described: Described, rules: Rule[]): JsonSchema {
  const json: JsonSchema = { type: 'array' };
  const items = described.items ?? [];
  if (items.length === 1 && items[0]) json.items = convert(items[0]);
  else if (items.length > 1) json.items = { anyOf: items.map(convert) };
  for (const rule of rules) {
    if (rule.name === 'min') json.minItems = rule.args?.limit;
    if (rule.name === 'max') json.maxItems = rule.args?.limit;
    if (rule.name === 'unique') json.uniqueItems = true;
  }
  return json;
}

function stringSchema(rules: Rule[], notes: string[]): JsonSchema {
  const json: JsonSchema = { type: 'string' };
  for (const rule of rules) {
    const args = rule.args ?? {};
    switch (rule.name) {
      case 'min':
        json.minLength = args.limit;
        break;
      case 'max':
        json.maxLength = args.limit;
        break;
      case 'length':
        json.minLength = args.limit;
        json.maxLength = args.limit;
        break;
      case 'pattern': {
        const regex = args.regex;
        // Joi describes a pattern as "/source/flags"; JSON Schema wants the source.
        if (typeof regex === 'string') json.pattern = regex.slice(1, regex.lastIndexOf('/'));
        break;
      }
      case 'email':
        json.format = 'email';
        break;
      case 'guid':
        json.format = 'uuid';
        break;
      case 'isoDate':
        json.format = 'date-time';
        break;
      case 'uri':
        json.format = 'uri';
        break;
      case 'case':
        notes.push(`turned to ${String(args.direction)} case`);
        break;
      default:
        break;
    }
  }
  return json;
}

function numberSchema(rules: Rule[]): JsonSchema {
  const json: JsonSchema = { type: 'number' };
  for (const rule of rules) {
    const limit = rule.args?.limit;
    if (rule.name === 'integer') json.type = 'integer';
    if (rule.name === 'min') json.minimum = limit;
    if (rule.name === 'max') json.maximum = limit;
    if (rule.name === 'greater') json.exclusiveMinimum = limit;
    if (rule.name === 'less') json.exclusiveMaximum = limit;
  }
  return json;
}
