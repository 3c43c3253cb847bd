import express, { Router } from 'express';
import { escapeHtml, publicPage as page } from '../platform/http/public-page.js';
import type { SubscriptionsService } from './subscriptions.service.js';

/*
 * The one-click unsubscribe endpoint (RFC 8058), public: no API key, no cookies.
 * - POST unsubscribes, whatever the body (mail clients send List-Unsubscribe=One-Click as a form),
 *   and answers 200 with no redirect, as the RFC requires.
 * - GET only shows a page with a button that POSTs: scanners and link previews fetch URLs, and a
 *   GET that unsubscribed would unsubscribe people who never asked.
 */

export function subscriptionsRoutes(subscriptions: SubscriptionsService, companyName: string): Router {
  const router = Router();

  router.get('/u/:token', (req, res) => {
    if (!subscriptions.isValidToken(req.params.token)) {
      page(res, 404, 'Link not recognised', '<p>This unsubscribe link is not valid. If you copied it, check that it is complete.</p>');
      return;
    }
    page(res, 200, `Unsubscribe from ${companyName}`, `<p>Stop receiving marketing email from ${escapeHtml(companyName)}?</p>
<form method="post"><button type="submit">Unsubscribe</button></form>`);
  });

  router.post('/u/:token', express.urlencoded({ extended: false, limit: '10kb' }), async (req, res) => {
    const body: unknown = req.body;
    const oneClick = req.is('multipart/form-data') || (typeof body === 'object' && body !== null && 'List-Unsubscribe' in body && body['List-Unsubscribe'] === 'One-Click');
    const outcome = await subscriptions.unsubscribe(req.params.token, oneClick ? 'one_click' : 'page', new Date());
    switch (outcome) {
      case 'invalid_token':
        page(res, 404, 'Link not recognised', '<p>This unsubscribe link is not valid. If you copied it, check that it is complete.</p>');
        return;
      case 'unsubscribed':
      case 'already_unsubscribed':
      case 'lead_gone':
        page(res, 200, 'You are unsubscribed', `<p>You will not receive marketing email from ${escapeHtml(companyName)} any more.</p>`);
        return;
    }
  });

  return router;
}
