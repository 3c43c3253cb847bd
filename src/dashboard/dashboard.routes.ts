import { timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { Router, type NextFunction, type Request, type Response } from 'express';
import Handlebars from 'handlebars';
import type { Kysely } from 'kysely';
import { simpleParser } from 'mailparser';
import type { SequenceRunner } from '../enrollments/sequence-runner.js';
import { EMPTY_COUNTS, enrollmentTotals, stepCounts } from '../enrollments/sequence-stats.repository.js';
import type { HandoffService } from '../handoff/handoff.service.js';
import type { Briefing } from '../handoff/briefing.js';
import { findDevMail, listDevMail } from '../mail/dev-mail.repository.js';
import type { Database, HandoffStatus } from '../platform/db/schema.js';
import { escapeHtml } from '../platform/http/public-page.js';
import { createTokenSigner } from '../platform/signing.js';
import type { ScoringService } from '../scoring/scoring.service.js';
import type { Services } from '../services.js';
import type { TemplateStore } from '../templates/template-store.js';
import { barChart, lineChart } from './charts.js';

/*
 * The dashboard: server-rendered pages for marketers and reps, behind a sign-in with the API key.
 * Sequences with their funnels and email previews, leads with score and timeline, the handoff
 * inbox with accept / reject / convert, and (in development) the mail the embedded sink caught.
 * No scripts: forms post, links navigate. The session cookie is signed, HttpOnly and SameSite=Strict,
 * and a POST from another site is refused.
 */

export interface DashboardDeps {
  apiKey: string;
  secret: string;
  /** Cookies only over https when Baton is served over https. */
  secureCookies: boolean;
  services: Services;
  runner: SequenceRunner;
  db: Kysely<Database>;
  templates: TemplateStore;
  company: { name: string; postalAddress: string };
  scoring: { scoring: ScoringService; handoffs: HandoffService | null } | null;
  /** The embedded sink's mail (development), or false with SMTP_URL. */
  devMail: boolean;
}

const SESSION_COOKIE = 'baton_session';
const SESSION_HOURS = 12;
// The views stay in src/ (tsc copies no .hbs): from dist/dashboard/ as from src/dashboard/.
const VIEWS = path.join(fileURLToPath(new URL('../../src/dashboard/views/', import.meta.url)), path.sep);
const STATUSES: HandoffStatus[] = ['pending', 'accepted', 'rejected', 'converted'];

function loadViews() {
  const handlebars = Handlebars.create();
  handlebars.registerHelper('eq', (a: unknown, b: unknown) => a === b);
  const view = (name: string) => handlebars.compile(readFileSync(`${VIEWS}${name}.hbs`, 'utf8'), { strict: false });
  const names = ['layout', 'login', 'sequences', 'sequence', 'step', 'leads', 'lead', 'handoffs', 'handoff', 'mail', 'message'] as const;
  return Object.fromEntries(names.map((name) => [name, view(name)])) as Record<(typeof names)[number], HandlebarsTemplateDelegate>;
}

export function dashboardRoutes(deps: DashboardDeps): Router {
  const router = Router();
  const views = loadViews();
  const css = readFileSync(`${VIEWS}style.css`, 'utf8');
  const signer = createTokenSigner(deps.secret, 'dashboard-session');
  const handoffs = deps.scoring?.handoffs ?? null;

  const page = (res: Response, status: number, view: keyof typeof views, title: string, section: string, data: Record<string, unknown>, signedIn = true) => {
    const body = views[view](data);
    res.status(status).set('Cache-Control', 'no-store').set('Content-Security-Policy', "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-src 'self'; form-action 'self'; frame-ancestors 'none'")
      .type('html').send(views.layout({ title, section, signedIn, devMail: deps.devMail, body }));
  };

  // An email's HTML, for an <iframe>: its own strict policy (inline styles, no scripts, no remote
  // images, so a preview never fires a tracking pixel), sandboxed, framed only by the dashboard.
  const emailHtml = (res: Response, html: string) => {
    res.set('Cache-Control', 'no-store').set('Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; frame-ancestors 'self'; sandbox")
      .type('html').send(html);
  };

  const signedIn = (req: Request) => {
    const cookie = /(?:^|;\s*)baton_session=([^;]+)/.exec(req.headers.cookie ?? '')?.[1];
    const payload = cookie ? signer.verify(decodeURIComponent(cookie)) : null;
    return payload !== null && /^\d+$/.test(payload) && Number(payload) * 1000 > Date.now();
  };
  const requireSession = (req: Request, res: Response, next: NextFunction) => {
    if (signedIn(req)) return next();
    res.redirect(303, `/dashboard/login?next=${encodeURIComponent(req.originalUrl)}`);
  };
  // A form posted from another site must not act with the user's cookie (SameSite covers most browsers).
  const sameSite = (req: Request, res: Response, next: NextFunction) => {
    const site = req.headers['sec-fetch-site'];
    if (site === 'cross-site' || site === 'same-site') return void res.status(403).type('text').send('Cross-site form posts are refused');
    next();
  };
  const form = express.urlencoded({ extended: false, limit: '10kb', parameterLimit: 20 });
  const field = (req: Request, name: string) => {
    const body: unknown = req.body;
    return typeof body === 'object' && body !== null && name in body && typeof (body as Record<string, unknown>)[name] === 'string' ? String((body as Record<string, unknown>)[name]) : '';
  };
  const safeNext = (next: string) => (/^\/dashboard(\/[\w\-./?=&%]*)?$/.test(next) ? next : '/dashboard');

  router.get('/dashboard/style.css', (_req, res) => {
    res.type('css').set('Cache-Control', 'public, max-age=300').send(css);
  });

  router.get('/dashboard/login', (req, res) => {
    page(res, 200, 'login', 'Sign in', '', { next: safeNext(String(req.query.next ?? '/dashboard')) }, false);
  });

  router.post('/dashboard/login', sameSite, form, (req, res) => {
    const given = Buffer.from(field(req, 'key'));
    const expected = Buffer.from(deps.apiKey);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return page(res, 401, 'login', 'Sign in', '', { error: 'That is not the API key.', next: safeNext(field(req, 'next')) }, false);
    }
    const expires = Math.floor(Date.now() / 1000) + SESSION_HOURS * 3600;
    res.cookie(SESSION_COOKIE, signer.sign(String(expires)), { httpOnly: true, sameSite: 'strict', secure: deps.secureCookies, path: '/dashboard', maxAge: SESSION_HOURS * 3600_000 });
    res.redirect(303, safeNext(field(req, 'next')));
  });

  router.post('/dashboard/logout', sameSite, (_req, res) => {
    res.clearCookie(SESSION_COOKIE, { path: '/dashboard' });
    res.redirect(303, '/dashboard/login');
  });

  router.get('/dashboard', requireSession, (_req, res) => res.redirect(303, '/dashboard/sequences'));

  router.get('/dashboard/sequences', requireSession, async (_req, res) => {
    const sequences = await Promise.all(deps.runner.sequences().map(async (sequence) => {
      const counts = await stepCounts(deps.db, sequence.id);
      return {
        ...sequence,
        totals: await enrollmentTotals(deps.db, sequence.id),
        funnel: barChart(sequence.steps.filter((step) => step.kind === 'email').map((step) => ({ label: step.id, value: counts.get(step.id)?.sent ?? 0 })), `${sequence.name}: emails sent per step`),
      };
    }));
    page(res, 200, 'sequences', 'Sequences', 'sequences', { sequences });
  });

  router.get('/dashboard/sequences/:id', requireSession, async (req, res) => {
    const sequence = deps.runner.sequences().find((candidate) => candidate.id === req.params.id);
    if (!sequence) return page(res, 404, 'leads', 'No such sequence', 'sequences', { leads: [] });
    const counts = await stepCounts(deps.db, sequence.id);
    const steps = sequence.steps.map((step) => ({ id: step.id, kind: step.kind, preview: step.kind === 'email', ...(counts.get(step.id) ?? EMPTY_COUNTS) }));
    page(res, 200, 'sequence', sequence.name, 'sequences', { sequence, steps, funnel: barChart(steps.map((step) => ({ label: step.id, value: step.entered })), `${sequence.name}: leads entering each step`) });
  });

  const stepPreview = (sequenceId: string, stepId: string) => {
    const sequence = deps.runner.sequences().find((candidate) => candidate.id === sequenceId);
    const step = sequence?.steps.find((candidate) => candidate.id === stepId);
    if (!sequence || step?.kind !== 'email') return null;
    const lead = { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines', title: 'VP Engineering', country: 'GB', traits: {}, tags: [] };
    const email = deps.templates.render(step.email.template, { lead, company: deps.company, links: { unsubscribe: '#unsubscribe' }, sequence: { id: sequence.id, name: sequence.name }, step: { id: step.id } }, { subject: step.email.subject });
    return { sequence, step, email: { ...email, template: step.email.template } };
  };

  router.get('/dashboard/sequences/:id/steps/:step', requireSession, (req, res) => {
    const preview = stepPreview(String(req.params.id), String(req.params.step));
    if (!preview) return page(res, 404, 'leads', 'No such email step', 'sequences', { leads: [] });
    page(res, 200, 'step', `${preview.step.id}: ${preview.email.subject}`, 'sequences', { sequenceId: preview.sequence.id, stepId: preview.step.id, email: preview.email });
  });

  router.get('/dashboard/sequences/:id/steps/:step/html', requireSession, (req, res) => {
    const preview = stepPreview(String(req.params.id), String(req.params.step));
    if (!preview) return void res.status(404).type('text').send('No such email step');
    emailHtml(res, preview.email.html);
  });

  router.get('/dashboard/leads', requireSession, async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.slice(0, 200) : '';
    const result = await deps.services.leads.list({ limit: 50, ...(q ? { q } : {}) });
    page(res, 200, 'leads', 'Leads', 'leads', { q, leads: result.items });
  });

  router.get('/dashboard/leads/:id', requireSession, async (req, res) => {
    const id = String(req.params.id);
    const lead = /^[0-9a-f-]{36}$/i.test(id) ? await deps.services.leads.get(id) : null;
    if (!lead) return page(res, 404, 'leads', 'No such lead', 'leads', { leads: [] });
    const score = deps.scoring ? await deps.scoring.scoring.report(id, new Date()) : null;
    const timeline = await deps.services.events.timeline(id, { limit: 50 });
    const events = (timeline?.items ?? []).map((event) => ({ ...event, machine: event.properties.machine === true, summary: summarise(event.properties) }));
    const scoreChart = score ? lineChart([...score.history].reverse().map((entry) => ({ at: new Date(entry.at), value: entry.total })), 'Score over time') : '';
    page(res, 200, 'lead', lead.email, 'leads', { lead, score, scoreChart, events });
  });

  router.get('/dashboard/handoffs', requireSession, async (req, res) => {
    if (!handoffs) return page(res, 200, 'handoffs', 'Handoffs', 'handoffs', { handoffs: [], statuses: STATUSES });
    const status = STATUSES.find((candidate) => candidate === req.query.status);
    const list = await handoffs.list({ ...(status ? { status } : {}), limit: 50 });
    const withBriefings = await Promise.all(list.items.map(async (item) => ({ ...item, briefing: (await handoffs.get(item.id))?.briefing })));
    page(res, 200, 'handoffs', 'Handoffs', 'handoffs', { handoffs: withBriefings, status, statuses: STATUSES });
  });

  router.get('/dashboard/handoffs/:id', requireSession, async (req, res) => {
    const handoff = handoffs && /^[0-9a-f-]{36}$/i.test(String(req.params.id)) ? await handoffs.get(String(req.params.id)) : null;
    if (!handoff) return page(res, 404, 'handoffs', 'No such handoff', 'handoffs', { handoffs: [], statuses: STATUSES });
    const briefing: Briefing = handoff.briefing;
    page(res, 200, 'handoff', `${briefing.who.name}${briefing.who.company ? ` · ${briefing.who.company}` : ''}`, 'handoffs', { handoff, b: briefing });
  });

  for (const action of ['accept', 'reject', 'convert'] as const) {
    router.post(`/dashboard/handoffs/:id/${action}`, requireSession, sameSite, form, async (req, res) => {
      const id = String(req.params.id ?? '');
      if (!handoffs || !/^[0-9a-f-]{36}$/i.test(id)) return res.redirect(303, '/dashboard/handoffs');
      const reason = action === 'reject' ? field(req, 'reason').trim().slice(0, 500) || undefined : undefined;
      await handoffs.decide(id, action, new Date(), { kind: 'dashboard' }, { reason });
      res.redirect(303, `/dashboard/handoffs/${id}`);
    });
  }

  if (deps.devMail) {
    router.get('/dashboard/mail', requireSession, async (_req, res) => {
      const rows = await listDevMail(deps.db, { limit: 100 });
      const messages = await Promise.all(rows.map(async (row) => {
        const parsed = await simpleParser(row.raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
        return { id: row.id, receivedAt: row.received_at.toISOString(), to: row.envelope_to.join(', '), subject: parsed.subject ?? '(no subject)' };
      }));
      page(res, 200, 'mail', 'Mail caught by the embedded sink', 'mail', { messages });
    });

    router.get('/dashboard/mail/:id/html', requireSession, async (req, res) => {
      const row = /^\d{1,18}$/.test(String(req.params.id)) ? await findDevMail(deps.db, String(req.params.id)) : undefined;
      if (!row) return void res.status(404).type('text').send('No such message');
      const parsed = await simpleParser(row.raw);
      emailHtml(res, parsed.html || `<pre>${escapeHtml(parsed.text ?? '')}</pre>`);
    });

    router.get('/dashboard/mail/:id', requireSession, async (req, res) => {
      const row = /^\d{1,18}$/.test(String(req.params.id)) ? await findDevMail(deps.db, String(req.params.id)) : undefined;
      if (!row) return page(res, 404, 'mail', 'No such message', 'mail', { messages: [] });
      const parsed = await simpleParser(row.raw);
      const to = Array.isArray(parsed.to) ? parsed.to.map((address) => address.text).join(', ') : (parsed.to?.text ?? '');
      page(res, 200, 'message', parsed.subject ?? '(no subject)', 'mail', { message: { id: row.id, from: parsed.from?.text ?? '', to, receivedAt: row.received_at.toISOString(), raw: row.raw } });
    });
  }

  return router;
}

function summarise(properties: Record<string, unknown>): string {
  const shown = Object.entries(properties).filter(([key]) => !['machine', 'userAgent', 'ipHash', 'sendId', 'linkId'].includes(key));
  return shown.map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`).join(' · ').slice(0, 200);
}
