import { Router } from 'express';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import { leadNotFound } from '../leads/lead-errors.js';
import { leadIdParamsSchema } from '../leads/leads.schemas.js';
import type { PrivacyService } from './privacy.service.js';

export function privacyRoutes(privacy: PrivacyService): Router {
  const router = Router();

  router.get(
    '/leads/:id/export',
    documented({
      tag: 'privacy',
      summary: 'Everything Baton holds about a lead (GDPR access request)',
      params: leadIdParamsSchema,
      responses: { 200: { description: 'the lead and every lead-scoped record' } },
    }),
    async (req, res) => {
      const { id } = validate(leadIdParamsSchema, req.params, 'path');
      const data = await privacy.exportLead(id);
      if (!data) throw leadNotFound(id);
      res.attachment(`lead-${id}.json`).json(data);
    },
  );

  return router;
}
