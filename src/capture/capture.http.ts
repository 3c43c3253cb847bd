import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isDatabaseDown } from '../platform/db/database-errors.js';
import { AppError, validationError, type ErrorCode } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import type { CaptureConfig } from './capture-config.js';
import type { CaptureService, CollectOutcome } from './capture.service.js';
import { MAX_COLLECT_BODY_BYTES, parseCollectMessage } from './collect-message.js';
import { createRateLimiter } from './rate-limit.js';
import { buildSnippet } from './snippet.js';

/*
 * GET /js/baton.js and POST /collect, answered before Express like click tracking: every page
 * view of the marketer's site lands here. /collect is write-only: whatever happens, the page gets
 * a status and, for a bad request, what was wrong with it, never anything about a lead.
 */

export type CaptureHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface CaptureHttpOptions {
  capture: CaptureService;
  config: CaptureConfig;
  siteKey: string;
  logger: Logger;
}

// An hour: a changed setting (privacy signals) reaches browsers within it; the ETag revalidates cheaply.
const SNIPPET_CACHE_CONTROL = 'public, max-age=3600';

export function createCaptureHandler({ capture, config, siteKey, logger }: CaptureHttpOptions): CaptureHandler {
  const snippet = buildSnippet(config.privacySignals);
  const origins = new Set(config.siteOrigins);
  // The answer to an accepted event, per origin, built once: it is the same for every page view.
  const acceptedHeaders = new Map(
    config.siteOrigins.map((origin) => [origin, { 'Access-Control-Allow-Origin': origin, Vary: 'Origin', 'Cache-Control': 'no-store', 'Content-Length': '0' }]),
  );
  const perVisitor = createRateLimiter(config.visitorRate);
  const perIp = createRateLimiter(config.ipRate);

  const serveSnippet = (req: IncomingMessage, res: ServerResponse) => {
    const headers: Record<string, string> = {
      'Content-Type': 'text/javascript; charset=utf-8',
      'Cache-Control': SNIPPET_CACHE_CONTROL,
      ETag: snippet.etag,
      Vary: 'Accept-Encoding',
      'X-Content-Type-Options': 'nosniff',
    };
    if (req.headers['if-none-match'] === snippet.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? snippet.gzipped : snippet.body;
    res.writeHead(200, { ...headers, ...(gzip ? { 'Content-Encoding': 'gzip' } : {}), 'Content-Length': String(body.length) });
    res.end(req.method === 'HEAD' ? undefined : body);
  };

  const collect = (req: IncomingMessage, res: ServerResponse) => {
    // rawHeaders, scanned once: building req.headers costs more than this whole check.
    const { origin, contentType, gpc, dnt, forwardedFor } = collectHeaders(req.rawHeaders);
    const allowed = origin !== null && origins.has(origin);
    const cors: Record<string, string> = allowed && origin ? { 'Access-Control-Allow-Origin': origin, Vary: 'Origin' } : { Vary: 'Origin' };
    const fail = (code: ErrorCode, message: string, details: unknown = undefined, extra: Record<string, string> = {}) => {
      sendError(res, new AppError(code, message, details), { ...cors, ...extra });
    };
    if (!allowed) {
      drain(req);
      fail(
        'origin_not_allowed',
        origin
          ? `Pages at ${origin.slice(0, 200)} may not send events: add the origin to BATON_SITE_ORIGINS`
          : 'Events come only from pages of the origins in BATON_SITE_ORIGINS (no Origin header)',
      );
      return;
    }
    if (req.method === 'OPTIONS') {
      drain(req);
      res.writeHead(204, {
        ...cors,
        'Access-Control-Allow-Methods': 'POST',
        'Access-Control-Allow-Headers': 'Content-Type',
        'Access-Control-Max-Age': '86400',
      });
      res.end();
      return;
    }
    // Global Privacy Control / Do Not Track as configured: accepted, and nothing is stored.
    if ((config.privacySignals.gpc && gpc) || (config.privacySignals.dnt && dnt)) {
      drain(req);
      res.writeHead(204, { ...cors, 'Cache-Control': 'no-store' });
      res.end();
      return;
    }
    const type = (contentType ?? 'text/plain').split(';')[0]?.trim().toLowerCase();
    if (type !== 'text/plain' && type !== 'application/json') {
      drain(req);
      fail('unsupported_media_type', 'Send the event as JSON, with Content-Type text/plain (as sendBeacon does) or application/json', [
        { field: 'Content-Type', location: 'header', message: 'Content-Type must be text/plain or application/json' },
      ]);
      return;
    }
    readBody(req, MAX_COLLECT_BODY_BYTES, (body) => {
      if (body === 'aborted') return;
      if (body === null) {
        fail('payload_too_large', `The event is larger than ${MAX_COLLECT_BODY_BYTES} bytes`, [
          { field: '(body)', location: 'body', message: `body must be at most ${MAX_COLLECT_BODY_BYTES} bytes` },
        ]);
        return;
      }
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        fail('malformed_json', 'The request body is not valid JSON', [{ field: '(body)', location: 'body', message: 'body must be valid JSON' }]);
        return;
      }
      const parsed = parseCollectMessage(json);
      if (!parsed.ok) {
        sendError(res, validationError(parsed.problems), cors);
        return;
      }
      const { message } = parsed;
      if (message.site !== siteKey) {
        fail('site_key_unknown', "site is not this Baton's site key: copy data-site from BATON_SITE_KEY", [
          { field: 'site', location: 'body', message: 'site must be BATON_SITE_KEY' },
        ]);
        return;
      }
      const now = Date.now();
      const ip = clientIp(req.socket.remoteAddress ?? null, forwardedFor);
      // Both counted on every call, so a flood of fresh visitor ids from one address still hits the IP limit.
      const visitorOk = perVisitor.admit(message.visitor, now);
      const ipOk = perIp.admit(ip, now);
      if (!visitorOk || !ipOk) {
        const retryAfter = String(Math.max(visitorOk ? 0 : perVisitor.retryAfterSeconds(message.visitor, now), ipOk ? 0 : perIp.retryAfterSeconds(ip, now)));
        fail('rate_limited', `Too many events from this ${visitorOk ? 'address' : 'visitor'}; try again in ${retryAfter} s`, undefined, {
          'Retry-After': retryAfter,
        });
        return;
      }
      // 202 only for an event that is stored or waiting in the buffer: a full buffer is said so.
      const answer = (outcome: CollectOutcome) => {
        switch (outcome.kind) {
          case 'recorded':
          case 'identified':
          case 'suppressed':
            res.writeHead(202, acceptedHeaders.get(origin ?? ''));
            res.end();
            return;
          case 'dropped':
            fail('capture_backlogged', 'Baton is behind with writing website events (the database is away or slow); this one was not recorded', undefined, {
              'Retry-After': '5',
            });
            return;
          default:
            assertUnreachable(outcome);
        }
      };
      // A page view without a token only joins the buffer: answered at once, no promise.
      const quick = capture.collectAnonymousEvent(message, new Date(now));
      if (quick) {
        answer(quick);
        return;
      }
      capture.collect(message, new Date(now)).then(answer, (error: unknown) => {
        if (isDatabaseDown(error)) {
          fail('database_unavailable', 'The database is not answering; try again shortly', undefined, { 'Retry-After': '5' });
          return;
        }
        const errorId = randomUUID();
        logger.error({ err: error, errorId }, 'a snippet call failed');
        sendError(res, new AppError('internal_error', `Internal error; quote ${errorId} when reporting it`, { errorId }), cors);
      });
    });
  };

  return (req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/js/baton.js' && (req.method === 'GET' || req.method === 'HEAD')) {
      serveSnippet(req, res);
      return true;
    }
    if (path === '/collect' && (req.method === 'POST' || req.method === 'OPTIONS')) {
      collect(req, res);
      return true;
    }
    return false;
  };
}

function assertUnreachable(value: never): never {
  throw new Error(`unexpected collect outcome ${JSON.stringify(value)}`);
}

function sendError(res: ServerResponse, error: AppError, headers: Record<string, string>): void {
  if (res.headersSent) return;
  const body = JSON.stringify({ error: { code: error.code, message: error.message, ...(error.details === undefined ? {} : { details: error.details }) } });
  res.writeHead(error.status, {
    ...headers,
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    'Content-Length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * Calls back with the body, null when it is longer than `limit` (the rest is drained, not
 * buffered), or 'aborted' when the client went away (nothing to answer). Callbacks, not a
 * promise: this runs for every page view.
 */
function readBody(req: IncomingMessage, limit: number, done: (body: Buffer | null | 'aborted') => void): void {
  let first: Buffer | null = null;
  let more: Buffer[] | null = null;
  let size = 0;
  req.on('data', (chunk: Buffer) => {
    size += chunk.length;
    if (size > limit) return;
    if (first === null) first = chunk;
    else (more ??= [first]).push(chunk);
  });
  req.on('end', () => done(size > limit ? null : more ? Buffer.concat(more) : (first ?? Buffer.alloc(0))));
  req.on('error', () => done('aborted'));
}

/** The headers /collect reads, from rawHeaders (name, value, name, value, …). */
function collectHeaders(raw: string[]): { origin: string | null; contentType: string | null; gpc: boolean; dnt: boolean; forwardedFor: string | null } {
  const found = { origin: null as string | null, contentType: null as string | null, gpc: false, dnt: false, forwardedFor: null as string | null };
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index] ?? '';
    const value = raw[index + 1] ?? '';
    // Only the first Origin counts: a second one is a forged or broken request.
    if (name.length === 6 && name.toLowerCase() === 'origin') found.origin ??= value;
    else if (name.length === 12 && name.toLowerCase() === 'content-type') found.contentType ??= value;
    else if (name.length === 7 && name.toLowerCase() === 'sec-gpc') found.gpc = value.trim() === '1';
    else if (name.length === 3 && name.toLowerCase() === 'dnt') found.dnt = value.trim() === '1';
    else if (name.length === 15 && name.toLowerCase() === 'x-forwarded-for') found.forwardedFor ??= value;
  }
  return found;
}

/**
 * The address rate-limited per IP. Behind the TLS proxy on this machine every request comes from
 * loopback, so X-Forwarded-For is believed from loopback only (as the click redirect does); from
 * anywhere else it is the client's own claim and ignored. The last entry is the one the proxy
 * added; the ones before it are whatever the client sent.
 */
function clientIp(remote: string | null, forwardedFor: string | null): string {
  if (remote && forwardedFor && /^(127\.|::1$|::ffff:127\.)/.test(remote)) return forwardedFor.split(',').at(-1)?.trim() || remote;
  return remote ?? 'unknown';
}

function drain(req: IncomingMessage): void {
  req.resume();
}
