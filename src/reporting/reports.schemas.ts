import Joi from 'joi';
import { GROUPINGS } from './report-window.js';

/**
 * The funnel report's query, as a shape: which parameters exist and what they look like. Dates,
 * instants and zones are then read by `parseReportQuery` (report-window.ts), which names the
 * parameter it cannot read.
 */
export const funnelQuerySchema = Joi.object<Record<string, unknown>>({
  from: Joi.string()
    .trim()
    .max(40)
    .allow('')
    .description('start of the cohort: YYYY-MM-DD (midnight in tz) or an ISO 8601 time with an offset; default 365 days before `to`'),
  to: Joi.string()
    .trim()
    .max(40)
    .allow('')
    .description('end of the cohort: YYYY-MM-DD (that whole day, in tz) or an ISO 8601 time with an offset (exclusive); default now'),
  by: Joi.string()
    .valid(...GROUPINGS)
    .allow('')
    .description('grouping: source, sequence, rep or month'),
  tz: Joi.string().trim().max(64).allow('').description('IANA time zone for dates and months; default UTC'),
});
