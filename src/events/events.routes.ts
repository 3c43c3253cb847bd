import { Router } from 'express';
import { AppError } from '../platform/errors.js';
import { jsonBody } from '../platform/http/json-body.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import { leadNotFound } from '../leads/lead-errors.js';
import { leadIdParamsSchema } from '../leads/leads.schemas.js';
import { eventBatchSchema, eventInputSchema, eventsBodySchema, timelineQuerySchema } from './events.schemas.js';
import type { EventsService } from './events.service.js';

// A full batch of 1,000 events with sizeable properties fits; anything larger is refused.
const EVENTS_BODY_LIMIT = '5mb';

export function eventsRoutes(events: EventsService): Router {
  const router = Router();

  /** One event object, or an array of up to 1,000. Stored append-only; answers 202 with ids. */
  router.post(
    '/events',
    documented({
      tag: 'events',
      summary: 'Record one event, or a batch of up to 1,000 (an array)',
      body: eventsBodySchema,
      responses: { 202: { description: 'recorded' } },
    }),
    ...jsonBody(EVENTS_BODY_LIMIT),
    async (req, res) => {
      const single = !Array.isArray(req.body);
      const inputs = single ? [validate(eventInputSchema, req.body, 'body')] : validate(eventBatchSchema, req.body, 'body');
      const result = await events.ingest(inputs);
      const [problem] = result.rejected;
      if (single && problem) {
        throw new AppError(problem.code, problem.message, [{ field: problem.field, location: 'body', message: problem.message }]);
      }
      res.status(202).json(result);
    },
  );

  router.get(
    '/leads/:id/timeline',
    documented({
      tag: 'events',
      summary: "A lead's events, newest first",
      params: leadIdParamsSchema,
      query: timelineQuerySchema,
      responses: { 200: { description: 'a page of events' } },
    }),
    async (req, res) => {
      const { id } = validate(leadIdParamsSchema, req.params, 'path');
      const query = validate(timelineQuerySchema, req.query, 'query');
      const page = await events.timeline(id, query);
      if (!page) throw leadNotFound(id);
      res.json(page);
    },
  );

  return router;
}
