import express, { Router, type Response } from 'express';
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

function page(res: Response, status: number, title: string, body: string): void {
  res
    .status(status)
    .set('Cache-Control', 'no-store')
    .set('Referrer-Policy', 'no-referrer')
    .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'")
    .type('html')
    .send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}button{font-size:1rem;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#1d4ed8;color:#fff;cursor:pointer}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);
}
