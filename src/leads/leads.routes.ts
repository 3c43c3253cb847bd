import type { Request } from 'express';
import { Router } from 'express';
import { Readable } from 'node:stream';
import busboy from 'busboy';
import { AppError } from '../platform/errors.js';
import { jsonBody } from '../platform/http/json-body.js';
import { validate } from '../platform/http/validate.js';
import { emailSuppressed, leadNotFound } from './lead-errors.js';
import type { LeadsService, UpdateOutcome, UpsertOutcome } from './leads.service.js';
import { leadIdParamsSchema, leadInputSchema, leadListQuerySchema, leadPatchSchema } from './leads.schemas.js';

const JSON_LIMIT = '2mb';

export function leadsRoutes(leads: LeadsService): Router {
  const router = Router();

  router.post('/leads', ...jsonBody(JSON_LIMIT), async (req, res) => {
    const input = validate(leadInputSchema, req.body, 'body');
    const outcome = await leads.upsert(input);
    const lead = leadOrThrow(outcome, input.email);
    res.status(outcome.kind === 'created' ? 201 : 200).json(lead);
  });

  router.get('/leads', async (req, res) => {
    const query = validate(leadListQuerySchema, req.query, 'query');
    res.json(await leads.list(query));
  });

  // Registered before /leads/:id so these names are not taken for ids.
  router.post('/leads/import', async (req, res) => {
    const upload = await openCsvUpload(req);
    res.json(await leads.importCsv(upload));
  });

  router.get('/leads/export.csv', async (req, res) => {
    const { email, tag, q } = validate(leadListQuerySchema.fork(['limit', 'cursor'], (schema) => schema.forbidden()), req.query, 'query');
    res.status(200).type('text/csv; charset=utf-8').attachment('leads.csv');
    await leads.exportCsv({ email, tag, q }, res);
  });

  router.get('/leads/:id', async (req, res) => {
    const { id } = validate(leadIdParamsSchema, req.params, 'path');
    const lead = await leads.get(id);
    if (!lead) throw leadNotFound(id);
    res.json(lead);
  });

  router.patch('/leads/:id', ...jsonBody(JSON_LIMIT), async (req, res) => {
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
        throw new AppError('lead_email_taken', 'Another lead already has this email', [{ field: 'email', location: 'body', message: 'email belongs to another lead' }]);
    }
  });

  router.delete('/leads/:id', async (req, res) => {
    const { id } = validate(leadIdParamsSchema, req.params, 'path');
    if (!(await leads.erase(id))) throw leadNotFound(id);
    res.status(204).end();
  });

  router.get('/leads/:id/export', async (req, res) => {
    const { id } = validate(leadIdParamsSchema, req.params, 'path');
    const data = await leads.exportOne(id);
    if (!data) throw leadNotFound(id);
    res.attachment(`lead-${id}.json`).json(data);
  });

  return router;
}

function leadOrThrow(outcome: UpsertOutcome, email: string) {
  switch (outcome.kind) {
    case 'created':
    case 'updated':
      return outcome.lead;
    case 'suppressed':
      throw emailSuppressed(email);
  }
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
      resolve(file);
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

