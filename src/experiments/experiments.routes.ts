import { Router } from 'express';
import { AppError } from '../platform/errors.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import type { ExperimentsService } from './experiments.service.js';
import { experimentsParams, experimentsQuery } from './experiments.schemas.js';

/* GET /api/sequences/:id/experiments: every split of the sequence and its holdout group, with statistics (docs/experiments.md). */

export function experimentsRoutes(experiments: ExperimentsService): Router {
  const router = Router();

  router.get(
    '/sequences/:id/experiments',
    documented({
      tag: 'sequences',
      summary: "A sequence's splits and holdout: per-arm results with 95% intervals, P(best) and any recorded winner",
      params: experimentsParams,
      query: experimentsQuery,
      responses: { 200: { description: 'the experiment report' } },
    }),
    async (req, res) => {
      const { id } = validate(experimentsParams, req.params, 'path');
      validate(experimentsQuery, req.query, 'query');
      const outcome = await experiments.report(id);
      switch (outcome.kind) {
        case 'report':
          res.json(outcome.report);
          return;
        case 'unknown_sequence':
          throw new AppError('sequence_not_found', `No sequence has id ${id}`, [{ field: 'id', location: 'path', message: 'no sequence has this id' }]);
        default: {
          const unreachable: never = outcome;
          throw new Error(`unknown experiments outcome ${JSON.stringify(unreachable)}`);
        }
      }
    },
  );

  return router;
}
