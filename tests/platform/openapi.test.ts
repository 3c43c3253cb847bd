import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Router } from 'express';
import Joi from 'joi';
import request from 'supertest';
import { startBaton, type RunningBaton } from '../../src/baton.js';
import { leadInputSchema } from '../../src/leads/leads.schemas.js';
import { loadConfig } from '../../src/platform/config.js';
import { buildOpenApiDocument, documented } from '../../src/platform/http/openapi.js';
import { createLogger } from '../../src/platform/logger.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/*
 * GET /api/openapi.json on a Baton with every part switched on (sequences, scoring, handoffs,
 * webhooks, the dev mail sink): the document passes an independent OpenAPI 3.1 validator, holds
 * every route mounted under /api, and its request schemas say what the Joi schemas enforce.
 */

type OpenApiDocument = {
  openapi: string;
  paths: Record<
    string,
    Record<string, { requestBody?: { content: Record<string, { schema: object }> }; parameters?: Array<{ name: string; in: string; required: boolean }> }>
  >;
};

let dir: string;
let database: TestDatabase | null = null;
let baton: RunningBaton;
let document: OpenApiDocument;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-openapi-'));
  if (process.env.DATABASE_URL) database = await createTestDatabase({ migrated: false });
  const config = loadConfig({
    PORT: '0',
    BATON_DATA_DIR: dir,
    BATON_SEQUENCES_DIR: FIXTURE_CONTENT.sequences,
    BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates,
    BATON_SCORING_FILE: FIXTURE_CONTENT.scoring,
    BATON_SALES_TEAM_FILE: FIXTURE_CONTENT.salesTeam,
    BATON_API_KEY: 'openapi-api-key-0123456789abcdef',
    BATON_SECRET: 'openapi-secret-0123456789abcdef0123456789',
    BATON_PUBLIC_URL: 'https://baton.test',
    ...(database?.url ? { DATABASE_URL: database.url } : {}),
  });
  baton = await startBaton(config, createLogger('silent'));
  const res = await request(baton.url ?? '').get('/api/openapi.json');
  expect(res.status).toBe(200);
  document = res.body as OpenApiDocument;
}, 120_000);

afterAll(async () => {
  await baton?.stop();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

test('the document is served without the API key and is valid OpenAPI 3.1 for an independent validator', async () => {
  expect(document.openapi).toBe('3.1.0');
  // swagger-parser dereferences in place: give it a copy.
  await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
});

test('every route mounted under /api is in the document, with its path parameters', () => {
  const routes = baton.apiRoutes();
  expect(routes.length).toBeGreaterThanOrEqual(25);
  const missing = routes
    .filter((route) => !document.paths[`/api${route.path.replace(/:(\w+)/g, '{$1}')}`]?.[route.method])
    .map((route) => `${route.method.toUpperCase()} ${route.path}`);
  expect(missing).toEqual([]);
  expect(routes.filter((route) => route.doc === null)).toEqual([]);
  const leadById = document.paths['/api/leads/{id}']?.get;
  expect(leadById?.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true })]);
  // Nothing in the document that is not mounted.
  const documentedCount = Object.values(document.paths).reduce((sum, operations) => sum + Object.keys(operations).length, 0);
  expect(documentedCount).toBe(routes.length);
});

test('a route registered without a description is reported, so the coverage check can fail', () => {
  const router = Router();
  router.get('/things', documented({ tag: 'things', summary: 'List things', responses: { 200: { description: 'things' } } }), (_req, res) => res.json([]));
  router.post('/things', (_req, res) => res.json({}));
  const nested = Router();
  nested.delete('/things/:id', (_req, res) => res.end());
  router.use(nested);
  const built = buildOpenApiDocument(router, { prefix: '/api', title: 't', version: '1', description: 'd' });
  expect(built.undocumented.map((route) => `${route.method} ${route.path}`)).toEqual(['post /things', 'delete /things/:id']);
  expect(Object.keys(built.document.paths as object)).toEqual(['/api/things']);
});

test('request schemas are the Joi schemas: what Joi accepts the JSON Schema accepts, and what Joi refuses for structure it refuses', () => {
  const schema = document.paths['/api/leads']?.post?.requestBody?.content['application/json']?.schema;
  expect(schema).toBeDefined();
  const check = new Ajv2020({ strict: false, validateFormats: false }).compile(schema ?? {});
  const lead = {
    email: 'zoë.müller@example.de',
    firstName: 'Zoë',
    company: 'Müller & Söhne',
    tags: ['webinar', 'trial'],
    traits: { plan: 'pro' },
    country: 'DE',
    timezone: null,
  };
  expect(leadInputSchema.validate(lead).error).toBeUndefined();
  expect(check(lead)).toBe(true);
  for (const bad of [
    { firstName: 'No email' },
    { email: 'a@b.example', favouriteColour: 'blue' },
    { email: 'a@b.example', tags: ['x', 'x'] },
    { email: 'a@b.example', unsubscribed: false },
  ]) {
    expect(leadInputSchema.validate(bad).error).toBeDefined();
    expect(check(bad)).toBe(false);
  }
  // Query parameters carry Joi's limits and defaults.
  const limit = (document.paths['/api/leads']?.get?.parameters ?? []).find((parameter) => parameter.name === 'limit') as { schema?: object } | undefined;
  expect(limit?.schema).toEqual({ type: 'integer', minimum: 1, maximum: 200, default: 50 });
  expect(Joi.isSchema(leadInputSchema)).toBe(true);
});
