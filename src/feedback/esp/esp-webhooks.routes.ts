import express, { Router } from 'express';
import { AppError } from '../../platform/errors.js';
import type { EspWebhooks } from './esp-webhooks.service.js';

/*
 * POST /webhooks/esp/:provider (ses, postmark, sendgrid, mailgun): public, authenticated by the
 * provider's signature (or Postmark's basic auth), never by Baton's API key. The body is read raw:
 * SendGrid signs the exact bytes. A provider that is not configured is 404.
 */

export function espWebhookRoutes(webhooks: EspWebhooks): Router {
  const router = Router();
  router.post('/webhooks/esp/:provider', express.raw({ type: () => true, limit: '1mb' }), async (req, res) => {
    const provider = req.params.provider;
    if (!webhooks.enabled(provider)) throw new AppError('route_not_found', `No ESP webhook "${provider.slice(0, 40)}" is configured (docs/feedback.md)`);
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const outcome = await webhooks.receive(provider, { headers: req.headers, body }, new Date());
    switch (outcome.kind) {
      case 'refused':
        throw new AppError('esp_webhook_unverified', `The ${provider} webhook call was refused: ${outcome.reason}; nothing was recorded`);
      case 'accepted':
        res.status(200).json({ recorded: outcome.recorded, ignored: outcome.ignored });
        return;
    }
  });
  return router;
}
