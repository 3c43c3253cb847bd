import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import Handlebars from 'handlebars';
import { escapeHtml } from '../platform/http/public-page.js';
import type { DashboardSessions, Viewer } from './sessions.service.js';
import { absoluteTime, plural, relativeTime } from './time-words.js';

/*
 * What every dashboard page shares: the views, the page frame with its headers, the session
 * guard (who is signed in), and the guard on form posts (same origin only).
 */

export const SESSION_COOKIE = 'baton_session';
// The views stay in src/ (tsc copies no .hbs): from dist/dashboard/ as from src/dashboard/.
const VIEWS = path.join(fileURLToPath(new URL('../../src/dashboard/views/', import.meta.url)), path.sep);
const VIEW_NAMES = [
  'layout',
  'login',
  'link-sent',
  'sign-in',
  'notice',
  'sequences',
  'sequence',
  'step',
  'leads',
  'lead',
  'handoffs',
  'handoff',
  'mail',
  'message',
  'experiments',
  'pipeline',
] as const;
export type ViewName = (typeof VIEW_NAMES)[number];

// Pages may not be framed anywhere (clickjacking): both headers, for browsers old and new.
const PAGE_POLICY = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'";

const viewers = new WeakMap<Request, Viewer>();

/** Who made this request; only set behind `requireSession`. */
export function viewerOf(req: Request): Viewer | null {
  return viewers.get(req) ?? null;
}

export function isAdmin(req: Request): boolean {
  return viewerOf(req)?.kind === 'admin';
}

export function loadViews(): Record<ViewName, HandlebarsTemplateDelegate> {
  const handlebars = Handlebars.create();
  handlebars.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  handlebars.registerHelper('plural', (count: unknown, one: unknown, many: unknown) =>
    plural(Number(count), String(one), typeof many === 'string' ? many : undefined),
  );
  // {{when at}}: in the viewer's zone and in words; the ISO instant only in the machine-readable attribute.
  handlebars.registerHelper('when', (value: unknown, options: Handlebars.HelperOptions) => {
    const at = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : null;
    if (!at || Number.isNaN(at.getTime())) return '';
    const data: unknown = options.data;
    const root = typeof data === 'object' && data !== null && 'root' in data ? data.root : undefined;
    const zone = typeof root === 'object' && root !== null && 'zone' in root && typeof root.zone === 'string' ? root.zone : 'UTC';
    const now = typeof root === 'object' && root !== null && 'now' in root && root.now instanceof Date ? root.now : new Date();
    return new handlebars.SafeString(
      `<time datetime="${at.toISOString()}">${escapeHtml(absoluteTime(at, zone))}</time> <span class="muted">(${escapeHtml(relativeTime(at, now))})</span>`,
    );
  });
  const view = (name: string) => handlebars.compile(readFileSync(`${VIEWS}${name}.hbs`, 'utf8'), { strict: false });
  return Object.fromEntries(VIEW_NAMES.map((name) => [name, view(name)])) as Record<ViewName, HandlebarsTemplateDelegate>;
}

export interface PageKit {
  /** Renders a view in the frame, with the viewer's zone and now for {{when}}. */
  page(req: Request, res: Response, status: number, view: ViewName, title: string, section: string, data: Record<string, unknown>): void;
  /** A short page with a message: refusals, confirmations, expired links. */
  notice(req: Request, res: Response, status: number, title: string, message: string, link?: { href: string; text: string }): void;
  /** An email's HTML, for an <iframe> of the dashboard. */
  emailHtml(res: Response, html: string): void;
  css: string;
}

export function createPageKit(devMail: boolean): PageKit {
  const views = loadViews();
  const page: PageKit['page'] = (req, res, status, view, title, section, data) => {
    const viewer = viewerOf(req);
    const zone = viewer?.kind === 'rep' ? viewer.rep.timezone : 'UTC';
    const body = views[view]({ ...data, zone, now: new Date() });
    res
      .status(status)
      .set('Cache-Control', 'no-store')
      .set('Content-Security-Policy', PAGE_POLICY)
      .set('X-Frame-Options', 'DENY')
      .type('html')
      .send(
        views.layout({
          title,
          section,
          signedIn: viewer !== null,
          admin: viewer?.kind === 'admin',
          who: viewer?.kind === 'rep' ? viewer.rep.name : 'admin',
          devMail: devMail && viewer?.kind === 'admin',
          body,
        }),
      );
  };
  return {
    page,
    css: readFileSync(`${VIEWS}style.css`, 'utf8'),
    notice(req, res, status, title, message, link) {
      page(req, res, status, 'notice', title, '', { message, link });
    },
    // Its own strict policy: inline styles, no scripts, no remote images (a preview never fires a
    // tracking pixel), sandboxed, framed only by the dashboard itself.
    emailHtml(res, html) {
      res
        .set('Cache-Control', 'no-store')
        .set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'; sandbox")
        .set('X-Frame-Options', 'SAMEORIGIN')
        .type('html')
        .send(html);
    },
  };
}

export const form = express.urlencoded({ extended: false, limit: '10kb', parameterLimit: 20 });

export function field(req: Request, name: string): string {
  const body: unknown = req.body;
  if (typeof body !== 'object' || body === null || !(name in body)) return '';
  const value: unknown = Object.getOwnPropertyDescriptor(body, name)?.value;
  return typeof value === 'string' ? value : '';
}

/** Only a dashboard path: `next` never sends anyone off-site. */
export function safeNext(next: unknown): string {
  // Bounded: it travels signed inside the emailed sign-in link, whose token has a length limit.
  return typeof next === 'string' && next.length <= 200 && /^\/dashboard(\/[\w\-./?=&%]*)?$/.test(next) && !next.includes('//') ? next : '/dashboard';
}

export function sessionToken(req: Request): string | null {
  const cookie = /(?:^|;\s*)baton_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
  if (!cookie) return null;
  try {
    return decodeURIComponent(cookie);
  } catch {
    return null;
  }
}

/** Lets signed-in viewers through; sends everyone else to sign in, then back here. */
export function requireSession(sessions: DashboardSessions): RequestHandler {
  return (req, res, next) => {
    const token = sessionToken(req);
    const viewer = token ? sessions.read(token, new Date()) : Promise.resolve(null);
    viewer.then((found) => {
      if (!found) return res.redirect(303, `/dashboard/login?next=${encodeURIComponent(req.originalUrl)}`);
      viewers.set(req, found);
      next();
    }, next);
  };
}

export function requireAdmin(kit: PageKit): RequestHandler {
  return (req, res, next) => {
    if (isAdmin(req)) return next();
    kit.notice(req, res, 403, 'Not for reps', 'This page is for the admin (the API key holder).');
  };
}

/**
 * A form posted from another site must not act with the viewer's cookie. SameSite=Lax covers
 * most browsers; Sec-Fetch-Site the rest of the modern ones; and Origin, when sent, must be
 * Baton's own (BATON_PUBLIC_URL, or the host the request was addressed to).
 */
export function sameOrigin(publicUrl: string): RequestHandler {
  const own = new URL(publicUrl).origin;
  return (req: Request, res: Response, next: NextFunction) => {
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    const addressed = `${req.protocol}://${req.get('host') ?? ''}`;
    if (site === 'cross-site' || site === 'same-site' || (origin !== undefined && origin !== own && origin !== addressed)) {
      return void res.status(403).set('X-Frame-Options', 'DENY').type('text').send('Cross-site form posts are refused');
    }
    next();
  };
}
