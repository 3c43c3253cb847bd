import type { IncomingMessage, ServerResponse } from 'node:http';
import { redirectLocation } from './redirect-location.js';
import type { TrackingRequest, TrackingService } from './tracking.service.js';

/*
 * The click and open endpoints, served before Express ever sees the request: every recipient's
 * mail client and every link scanner hits them, so they skip routing, middleware and log lines.
 * Events go to the tracking service's buffer and are written in batches.
 */

// The smallest transparent GIF.
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NOT_FOUND_PAGE =
  '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Link not found</title></head><body><h1>Link not found</h1><p>This link is not valid or has been removed.</p></body></html>';

/** Handles GET/HEAD /c/:token and GET /o/:token.gif; returns false for any other request. */
export type TrackingHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createTrackingHandler(tracking: TrackingService, onError: (error: unknown) => void): TrackingHandler {
  return (req, res) => {
    const url = req.url ?? '';
    const isClick = url.startsWith('/c/');
    if (!isClick && !url.startsWith('/o/')) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const token = tokenFrom(url);
    const request: TrackingRequest = { method: req.method, userAgent: req.headers['user-agent'] ?? null, ip: clientIp(req) };
    if (isClick) {
      tracking.click(token, request, new Date()).then(
        (outcome) => {
          if (outcome.kind === 'redirect') {
            res.writeHead(302, {
              Location: redirectLocation(outcome.url),
              'Cache-Control': 'no-store',
              'Referrer-Policy': 'no-referrer',
              'Content-Length': '0',
            });
            res.end();
          } else {
            res.writeHead(404, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
            res.end(NOT_FOUND_PAGE);
          }
        },
        (error: unknown) => {
          onError(error);
          res.writeHead(503, { 'Content-Type': 'text/html; charset=utf-8', 'Retry-After': '5' });
          res.end('<!doctype html><title>Try again</title><p>Please try the link again in a moment.</p>');
        },
      );
      return true;
    }
    // Always the pixel, whatever happens to the recording: a broken image looks like spam.
    tracking.open(token.replace(/\.gif$/, ''), request, new Date());
    res.writeHead(200, {
      'Content-Type': 'image/gif',
      'Content-Length': String(PIXEL.length),
      'Cache-Control': 'no-store, no-cache, must-revalidate, private',
    });
    res.end(req.method === 'HEAD' ? undefined : PIXEL);
    return true;
  };
}

function tokenFrom(url: string): string {
  const raw = url.slice(3).split('?')[0] ?? '';
  try {
    return decodeURIComponent(raw);
  } catch {
    return '';
  }
}

/** The client address; X-Forwarded-For is believed only from a proxy on this machine, and only its last entry (the one that proxy added). */
function clientIp(req: IncomingMessage): string | null {
  const remote = req.socket.remoteAddress ?? null;
  const forwarded = req.headers['x-forwarded-for'];
  if (remote && /^(127\.|::1$|::ffff:127\.)/.test(remote) && typeof forwarded === 'string') return forwarded.split(',').at(-1)?.trim() || remote;
  return remote;
}
