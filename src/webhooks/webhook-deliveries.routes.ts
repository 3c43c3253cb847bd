import { Router } from 'express';
import { AppError } from '../platform/errors.js';
import { jsonBody } from '../platform/http/json-body.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import { deliveryListQuery, deliveryParams, redeliverBody } from './webhook-deliveries.schemas.js';
import type { WebhookDeliveriesService } from './webhook-deliveries.service.js';

const notFound = (id: string) =>
  new AppError('webhook_delivery_not_found', `No webhook delivery has id ${id}`, [
    { field: 'id', location: 'path', message: 'no webhook delivery has this id' },
  ]);

/** `/api/webhooks/deliveries…`: what became of each lifecycle webhook, and sending one again. */
export function webhookDeliveriesRoutes(deliveries: WebhookDeliveriesService): Router {
  const router = Router();

  router.get(
    '/webhooks/deliveries',
    documented({
      tag: 'webhooks',
      summary: 'Lifecycle webhook deliveries',
      query: deliveryListQuery,
      responses: { 200: { description: 'a page of deliveries' } },
    }),
    async (req, res) => {
      res.json(await deliveries.list(validate(deliveryListQuery, req.query, 'query')));
    },
  );

  router.get(
    '/webhooks/deliveries/:id',
    documented({ tag: 'webhooks', summary: 'One delivery with its attempts', params: deliveryParams, responses: { 200: { description: 'the delivery' } } }),
    async (req, res) => {
      const { id } = validate(deliveryParams, req.params, 'path');
      const delivery = await deliveries.get(id);
      if (!delivery) throw notFound(id);
      res.json(delivery);
    },
  );

  router.post(
    '/webhooks/deliveries/:id/redeliver',
    documented({
      tag: 'webhooks',
      summary: 'Send a delivery again',
      params: deliveryParams,
      body: redeliverBody,
      responses: { 202: { description: 'queued again' } },
    }),
    ...jsonBody('10kb'),
    async (req, res) => {
      const { id } = validate(deliveryParams, req.params, 'path');
      validate(redeliverBody, req.body, 'body');
      const outcome = await deliveries.redeliver(id, new Date());
      switch (outcome.kind) {
        case 'queued':
          return res.status(202).json(outcome.delivery);
        case 'not_found':
          throw notFound(id);
        case 'pending':
          throw new AppError(
            'webhook_delivery_pending',
            `Webhook delivery ${id} is still being tried (attempt ${outcome.delivery.attempts + 1} is due at ${outcome.delivery.nextAttemptAt}); redeliver it once it has been delivered or has failed`,
            { status: 'pending' },
          );
        case 'endpoint_gone':
          throw new AppError(
            'webhook_endpoint_not_configured',
            `The endpoint "${outcome.delivery.endpoint}" of delivery ${id} is no longer in webhooks.yaml, so there is nowhere to send it`,
            { endpoint: outcome.delivery.endpoint },
          );
      }
    },
  );

  return router;
}
