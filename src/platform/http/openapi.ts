/*
 * The API's OpenAPI 3.1 document, read off the live router: every /api route is registered with
 * `documented({...})` beside its handler, naming the Joi schemas the handler validates with, and
 * the document is built by walking the routes that are actually mounted. A route without it is
 * listed as undocumented (a test keeps that list empty).
 */
import type { RequestHandler, Router } from 'express';
import type Joi from 'joi';
import { isRequired, joiToJsonSchema, type JsonSchema } from './joi-json-schema.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
const METHODS: readonly Method[] = ['get', 'post', 'put', 'patch', 'delete'];

export type ResponseBody = 'json' | 'csv' | 'html' | 'none';

export interface OperationDoc {
  summary: string;
  /** Groups operations in the document (leads, events, handoffs…). */
  tag: string;
  description?: string;
  params?: Joi.ObjectSchema;
  query?: Joi.ObjectSchema;
  /** A JSON body; `csvUpload` for a multipart or text/csv upload instead. */
  body?: Joi.Schema;
  csvUpload?: boolean;
  /** Successful answers: status → what it holds. Error answers are added for every operation. */
  responses: Record<number, { description: string; body?: ResponseBody }>;
}

const DOC = Symbol('openapi operation');
type DocumentedHandler = RequestHandler & { [DOC]: OperationDoc };

/** A pass-through middleware that carries the operation's description for the document. */
export function documented(doc: OperationDoc): RequestHandler {
  const handler: RequestHandler = (_req, _res, next) => next();
  return Object.assign(handler, { [DOC]: doc });
}

export interface MountedRoute {
  method: Method;
  /** Express form: /leads/:id */
  path: string;
  doc: OperationDoc | null;
}

interface LayerLike {
  route?: { path: unknown; methods?: Record<string, boolean>; stack?: Array<{ handle?: unknown }> };
  handle?: unknown;
}

/** Every route under `router`, including routers mounted on it at its root (`router.use(other)`). */
export function mountedRoutes(router: Router): MountedRoute[] {
  const routes: MountedRoute[] = [];
  const walk = (stack: unknown) => {
    if (!Array.isArray(stack)) return;
    for (const layer of stack as LayerLike[]) {
      if (layer.route && typeof layer.route.path === 'string') {
        const handlers = (layer.route.stack ?? []).map((inner) => inner.handle);
        const doc = handlers.find((handle): handle is DocumentedHandler => typeof handle === 'function' && DOC in handle)?.[DOC] ?? null;
        for (const method of METHODS) if (layer.route.methods?.[method]) routes.push({ method, path: layer.route.path, doc });
      } else if (typeof layer.handle === 'function' && 'stack' in layer.handle) {
        walk((layer.handle as { stack: unknown }).stack);
      }
    }
  };
  walk((router as unknown as { stack: unknown }).stack);
  return routes;
}

export interface OpenApiDocument {
  document: Record<string, unknown>;
  undocumented: MountedRoute[];
}

const ERROR_SCHEMA: JsonSchema = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'stable machine-readable code, e.g. validation_failed, lead_not_found' },
        message: { type: 'string' },
        details: { description: 'for validation_failed: the fields at fault, each with field, location and message' },
      },
    },
  },
};

/** The OpenAPI 3.1 document of the routes mounted under `prefix` (e.g. /api) on `router`. */
export function buildOpenApiDocument(router: Router, options: { prefix: string; title: string; version: string; description: string }): OpenApiDocument {
  const paths: Record<string, Record<string, unknown>> = {};
  const undocumented: MountedRoute[] = [];
  for (const route of mountedRoutes(router)) {
    if (!route.doc) {
      undocumented.push(route);
      continue;
    }
    const openApiPath = options.prefix + route.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    (paths[openApiPath] ??= {})[route.method] = operation(route, route.doc);
  }
  const document = {
    openapi: '3.1.0',
    info: { title: options.title, version: options.version, description: options.description },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    paths,
    components: {
      securitySchemes: { apiKey: { type: 'http', scheme: 'bearer', description: 'BATON_API_KEY, sent as Authorization: Bearer <key>' } },
      schemas: { Error: ERROR_SCHEMA },
      responses: {
        Error: {
          description: 'The request was refused or failed: see error.code and error.message',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
  };
  return { document, undocumented };
}

function operation(route: MountedRoute, doc: OperationDoc): Record<string, unknown> {
  const parameters = [...parametersOf(doc.params, 'path'), ...parametersOf(doc.query, 'query')];
  const responses: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    responses[status] = { description: response.description, ...(contentOf(response.body ?? 'json') ?? {}) };
  }
  responses.default = { $ref: '#/components/responses/Error' };
  const operationId = `${route.method}${route.path.replace(/[^A-Za-z0-9]+(.)?/g, (_match, next: string | undefined) => (next ?? '').toUpperCase())}`;
  return {
    operationId,
    summary: doc.summary,
    tags: [doc.tag],
    ...(doc.description ? { description: doc.description } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.body ? { requestBody: { required: true, content: { 'application/json': { schema: joiToJsonSchema(doc.body) } } } } : {}),
    ...(doc.csvUpload
      ? {
          requestBody: {
            required: true,
            content: {
              'multipart/form-data': { schema: { type: 'object', properties: { file: { type: 'string', contentMediaType: 'text/csv' } } } },
              'text/csv': { schema: { type: 'string' } },
            },
          },
        }
      : {}),
    responses,
  };
}

function contentOf(body: ResponseBody): { content: Record<string, unknown> } | null {
  switch (body) {
    case 'json':
      return { content: { 'application/json': { schema: {} } } };
    case 'csv':
      return { content: { 'text/csv': { schema: { type: 'string' } } } };
    case 'html':
      return { content: { 'text/html': { schema: { type: 'string' } } } };
    case 'none':
      return null;
  }
}

function parametersOf(schema: Joi.ObjectSchema | undefined, location: 'path' | 'query'): Array<Record<string, unknown>> {
  if (!schema) return [];
  const described = schema.describe() as { keys?: Record<string, { flags?: Record<string, unknown> }> };
  const whole = joiToJsonSchema(schema) as { properties?: Record<string, JsonSchema> };
  return Object.entries(described.keys ?? {}).map(([name, child]) => {
    const { description, ...propertySchema } = whole.properties?.[name] ?? {};
    return {
      name,
      in: location,
      required: location === 'path' || isRequired(child),
      schema: propertySchema,
      ...(typeof description === 'string' ? { description } : {}),
    };
  });
}
