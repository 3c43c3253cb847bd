import { Router } from 'express';
import { validationError } from '../platform/errors.js';
import type { ReportingService } from './funnel.service.js';
import { parseReportQuery, type ReportQuery } from './report-window.js';

/** `/api/reports/…`: the closed-loop reports (docs/reporting.md). */
export function reportsRoutes(reporting: ReportingService): Router {
  const router = Router();

  router.get('/reports/funnel', async (req, res) => {
    res.json(await reporting.funnel(reportQuery(req.query)));
  });

  return router;
}

/** The query's period and grouping, or 400 naming the parameter that is wrong. */
export function reportQuery(input: unknown, now = new Date()): ReportQuery {
  const parsed = parseReportQuery(typeof input === 'object' && input !== null ? { ...input } : {}, now);
  if (!parsed.ok) throw validationError([{ field: parsed.field, location: 'query', message: parsed.message }]);
  return parsed.query;
}
