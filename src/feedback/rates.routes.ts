import type { Kysely } from 'kysely';
import Joi from 'joi';
import { Router } from 'express';
import type { Database } from '../platform/db/schema.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import { deliverabilityReport } from './rates.service.js';

/*
 * GET /api/deliverability?days=30&sequence=ID: bounce and complaint rates per sequence, per step
 * and per recipient domain, with warnings above the mailbox providers' thresholds (rates.ts).
 */

const rateQuery = Joi.object({
  days: Joi.number().integer().min(1).max(365).default(30).description('how many days of sends to count'),
  sequence: Joi.string()
    .pattern(/^[a-z0-9][a-z0-9_-]{0,63}$/)
    .messages({ 'string.pattern.base': 'sequence is not a sequence id' }),
});

export function ratesRoutes(db: Kysely<Database>): Router {
  const router = Router();
  router.get(
    '/deliverability',
    documented({
      tag: 'deliverability',
      summary: 'Bounce and complaint rates per sequence, step and recipient domain, with warnings above Gmail/Yahoo thresholds',
      query: rateQuery,
      responses: { 200: { description: 'the deliverability report' } },
    }),
    async (req, res) => {
      const { days, sequence } = validate(rateQuery, req.query, 'query') as { days: number; sequence?: string };
      res.json(await deliverabilityReport(db, new Date(), days, sequence ?? null));
    },
  );
  return router;
}
