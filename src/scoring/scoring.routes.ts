import { Router } from 'express';
import Joi from 'joi';
import { leadNotFound } from '../leads/lead-errors.js';
import { uuidSchema } from '../leads/leads.schemas.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import type { ScoringService } from './scoring.service.js';

const idParams = Joi.object<{ id: string }>({ id: uuidSchema.required() });

export function scoringRoutes(scoring: ScoringService): Router {
  const router = Router();
  router.get(
    '/leads/:id/score',
    documented({
      tag: 'scoring',
      summary: "A lead's score, grade, stage and the rules that made them",
      params: idParams,
      responses: { 200: { description: 'the score report' } },
    }),
    async (req, res) => {
      const { id } = validate(idParams, req.params, 'path');
      const report = await scoring.report(id, new Date());
      if (!report) throw leadNotFound(id);
      res.json(report);
    },
  );
  return router;
}
