import { Router } from 'express';
import { validationError } from '../platform/errors.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import type { ReportingService } from './funnel.service.js';
import { parseReportQuery, type ReportQuery } from './report-window.js';
import { funnelQuerySchema } from './reports.schemas.js';

/** `/api/reports/…`: the closed-loop reports (docs/reporting.md). */
export function reportsRoutes(reporting: ReportingService): Router {
  const router = Router();

  router.get(
    '/reports/funnel',
    documented({
      tag: 'reports',
      summary: 'The lifecycle funnel of the leads created in the period: counts, conversion rates with 95% intervals, time in stage, value, rejections',
      query: funnelQuerySchema,
      responses: { 200: { description: 'the funnel report' } },
    }),
    async (req, res) => {
      res.json(await reporting.funnel(reportQuery(validate(funnelQuerySchema, req.query, 'query'))));
    },
  );

  return router;
}

/** The query's period and grouping, or 400 naming the parameter that is wrong. */
export function reportQuery(input: Record<string, unknown>, now = new Date()): ReportQuery {
  const parsed = parseReportQuery(input, now);
  if (!parsed.ok) throw validationError([{ field: parsed.field, location: 'query', message: parsed.message }]);
  return parsed.query;
}
