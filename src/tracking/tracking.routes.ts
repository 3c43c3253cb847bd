import { Router } from 'express';
import type { TrackingService } from './tracking.service.js';

/*
 * The click and open endpoints: public, hit by every recipient's mail client, so they do the
 * least work possible (no body parsing, no logging line per hit; events are written in batches).
 */

// The smallest transparent GIF.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

export function trackingRoutes(tracking: TrackingService): Router {
  const router = Router();

  // GET and HEAD: scanners often use HEAD; they are recorded (as machines) and redirected too.
  router.get('/c/:token', async (req, res) => {
    const outcome = await tracking.click(req.params.token, { method: req.method, userAgent: req.get('user-agent') ?? null, ip: req.ip ?? null }, new Date());
    if (outcome.kind === 'not_found') {
      res.status(404).set('Cache-Control', 'no-store').type('html').send('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head><body><h1>Link not found</h1><p>This link is not valid or has been removed.</p></body></html>');
      return;
    }
    res.set('Cache-Control', 'no-store').set('Referrer-Policy', 'no-referrer').redirect(302, outcome.url);
  });

  router.get('/o/:token', (req, res) => {
    // Always the pixel, whatever happens to the recording (a broken image looks like spam).
    tracking.open(req.params.token.replace(/\.gif$/, ''), { method: req.method, userAgent: req.get('user-agent') ?? null, ip: req.ip ?? null }, new Date());
    res.status(200).set('Cache-Control', 'no-store, no-cache, must-revalidate, private').type('image/gif').send(PIXEL);
  });

  return router;
}
