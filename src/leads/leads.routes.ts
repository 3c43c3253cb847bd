import type { Request } from 'express';
import { Router } from 'express';
import { PassThrough, Readable } from 'node:stream';
import busboy from 'busboy';
import { AppError, validationError } from '../platform/errors.js';
import { jsonBody } from '../platform/http/json-body.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import { emailSuppressed, leadNotFound } from './lead-errors.js';
import type { LeadsService, UpdateOutcome, UpsertOutcome } from './leads.service.js';
import { pipeline } from 'node:stream/promises';
import { exportQuerySchema, leadIdParamsSchema, leadInputSchema, leadListQuerySchema, leadPatchSchema } from './leads.schemas.js';

const JSON_LIMIT = '2mb';

export function leadsRoutes(leads: LeadsService): Router {
  const router = Router();

  router.post(
    '/leads',
    documented({
      tag: 'leads',
      summary: 'Create a lead, or update the lead with this email',
      body: leadInputSchema,
      responses: { 201: { description: 'created' }, 200: { description: 'updated' } },
    }),
    ...jsonBody(JSON_LIMIT),
    async (req, res) => {
      const input = validate(leadInputSchema, req.body, 'body');
      const outcome: UpsertOutcome = await leads.upsert(input);
      switch (outcome.kind) {
        case 'created':
        case 'updated':
          res.status(outcome.kind === 'created' ? 201 : 200).json(outcome.lead);
          return;
        case 'suppressed':
          throw emailSuppressed(input.email);
        case 'invalid':
          throw bodyProblems(outcome.problems);
      }
    },
  );

  router.get(
    '/leads',
    documented({
      tag: 'leads',
      summary: 'List leads (keyset pagination with nextCursor)',
      query: leadListQuerySchema,
      responses: { 200: { description: 'a page of leads' } },
    }),
    async (req, res) => {
      const query = validate(leadListQuerySchema, req.query, 'query');
      res.json(await leads.list(query));
    },
  );

  // Registered before /leads/:id so these names are not taken for ids.
  router.post(
    '/leads/import',
    documented({
      tag: 'leads',
      summary: 'Import leads from a CSV file (multipart upload or text/csv)',
      csvUpload: true,
      responses: { 200: { description: 'the import report: created, updated, rejected rows with reasons' } },
    }),
    async (req, res) => {
      const upload = await openCsvUpload(req);
      res.json(await leads.importCsv(upload));
    },
  );

  router.get(
    '/leads/export.csv',
    documented({
      tag: 'leads',
      summary: 'Export the leads matching the filters as CSV (bom=true for Excel)',
      query: exportQuerySchema,
      responses: { 200: { description: 'CSV, one lead per row', body: 'csv' } },
    }),
    async (req, res) => {
      const { email, tag, q, bom } = validate(exportQuerySchema, req.query, 'query');
      const csv = await leads.openCsvExport({ email, tag, q }, { bom });
      res.status(200).type('text/csv; charset=utf-8').attachment('leads.csv');
      // Headers are gone by now: a failure mid-export can only cut the download short.
      await pipeline(csv, res).catch(() => res.destroy());
    },
  );

  router.get(
    '/leads/:id',
    documented({ tag: 'leads', summary: 'One lead', params: leadIdParamsSchema, responses: { 200: { description: 'the lead' } } }),
    async (req, res) => {
      const { id } = validate(leadIdParamsSchema, req.params, 'path');
      const lead = await leads.get(id);
      if (!lead) throw leadNotFound(id);
      res.json(lead);
    },
  );

  router.patch(
    '/leads/:id',
    documented({
      tag: 'leads',
      summary: 'Change some fields of a lead',
      params: leadIdParamsSchema,
      body: leadPatchSchema,
      responses: { 200: { description: 'the updated lead' } },
    }),
    ...jsonBody(JSON_LIMIT),
    async (req, res) => {
      const { id } = validate(leadIdParamsSchema, req.params, 'path');
      const patch = validate(leadPatchSchema, req.body, 'body');
      const outcome: UpdateOutcome = await leads.update(id, patch);
      switch (outcome.kind) {
        case 'updated':
          res.json(outcome.lead);
          return;
        case 'not_found':
          throw leadNotFound(id);
        case 'suppressed':
          throw emailSuppressed(patch.email ?? '');
        case 'email_taken':
          throw new AppError('lead_email_taken', 'Another lead already has this email', [
            { field: 'email', location: 'body', message: 'email belongs to another lead' },
          ]);
        case 'invalid':
          throw bodyProblems(outcome.problems);
      }
    },
  );

  router.delete(
    '/leads/:id',
    documented({
      tag: 'privacy',
      summary: 'Erase a lead and everything recorded about it (GDPR)',
      params: leadIdParamsSchema,
      responses: { 204: { description: 'erased', body: 'none' } },
    }),
    async (req, res) => {
      const { id } = validate(leadIdParamsSchema, req.params, 'path');
      if (!(await leads.erase(id))) throw leadNotFound(id);
      res.status(204).end();
    },
  );

  return router;
}

function bodyProblems(problems: Array<{ field: string; message: string }>): AppError {
  return validationError(problems.map((problem) => ({ ...problem, location: 'body' as const })));
}

/** The CSV stream of an upload: a text/csv body, or the first file of a multipart form. */
async function openCsvUpload(req: Request): Promise<Readable> {
  if (req.is('text/csv') || req.is('text/plain') || req.is('application/csv')) return req;
  if (!req.is('multipart/form-data')) {
    throw new AppError('unsupported_media_type', 'Upload the CSV as text/csv or as a file in multipart/form-data', [
      { field: 'Content-Type', location: 'header', message: 'Content-Type must be text/csv or multipart/form-data' },
    ]);
  }
  return new Promise<Readable>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fields: 10 } });
    } catch {
      reject(badMultipart('the multipart body has no boundary'));
      return;
    }
    let found = false;
    parser.on('file', (_name, file) => {
      found = true;
      // Busboy fails a cut-off body with a plain Error ("Unexpected end of form"), which would be
      // a 500: the import reads this copy, which fails with a 400 naming the problem instead.
      const upload = new PassThrough();
      file.on('error', () => upload.destroy(badMultipart('the upload ended before the multipart body was complete')));
      file.pipe(upload);
      resolve(upload);
    });
    parser.on('error', () => reject(badMultipart('the multipart body cannot be read')));
    parser.on('close', () => {
      if (!found) reject(badMultipart('the form has no file'));
    });
    req.pipe(parser);
  });
}

function badMultipart(message: string): AppError {
  return new AppError('validation_failed', `Invalid upload: ${message}`, [{ field: 'file', location: 'body', message }]);
}
