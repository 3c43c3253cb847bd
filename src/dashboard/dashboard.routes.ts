import { Router, type Request } from 'express';
import type { Kysely } from 'kysely';
import { simpleParser } from 'mailparser';
import type { SequenceRunner } from '../enrollments/sequence-runner.js';
import { EMPTY_COUNTS, enrollmentTotals, stepCounts } from '../enrollments/sequence-stats.repository.js';
import { deliverabilityView } from '../feedback/rates-view.js';
import type { HandoffService } from '../handoff/handoff.service.js';
import type { Rep } from '../handoff/sales-team.js';
import { findDevMail, listDevMail } from '../mail/dev-mail.repository.js';
import type { Database } from '../platform/db/schema.js';
import { escapeHtml } from '../platform/http/public-page.js';
import { textProblem } from '../platform/http/text-safety.js';
import type { Logger } from '../platform/logger.js';
import type { ScoringService } from '../scoring/scoring.service.js';
import type { Services } from '../services.js';
import type { TemplateStore } from '../templates/template-store.js';
import { barChart, lineChart } from './charts.js';
import { listLeadsWithScores, wasHandedTo, type LeadListRow } from './dashboard-leads.repository.js';
import { createPageKit, isAdmin, requireAdmin, requireSession, viewerOf } from './dashboard-http.js';
import { handoffPagesRoutes } from './handoff-pages.routes.js';
import { decodeLeadCursor, encodeLeadCursor } from './list-cursor.js';
import { createDashboardSessions } from './sessions.service.js';
import { signInRoutes } from './sign-in.routes.js';
import { experimentPagesRoutes } from '../experiments/experiment-pages.routes.js';
import { createExperimentsService } from '../experiments/experiments.service.js';
import { pipelineRoutes } from '../reporting/pipeline.routes.js';

/*
 * The dashboard: server-rendered pages for marketers and reps. The admin signs in with the API
 * key; reps of sales-team.yaml sign in with an emailed link and see their own handoffs. Sequences
 * with their funnels and email previews, leads with score and timeline, the handoff inbox, and (in
 * development, for the admin) the mail the embedded sink caught. No scripts: forms post, links
 * navigate. Sessions live in the database and are revoked on sign-out.
 */

export interface DashboardDeps {
  apiKey: string;
  secret: string;
  /** BATON_PUBLIC_URL: Baton's own origin (form posts) and the base of sign-in links. */
  publicUrl: string;
  /** Cookies only over https when Baton is served over https. */
  secureCookies: boolean;
  services: Services;
  runner: SequenceRunner;
  db: Kysely<Database>;
  templates: TemplateStore;
  company: { name: string; postalAddress: string };
  scoring: { scoring: ScoringService; handoffs: HandoffService | null } | null;
  /** The reps who may sign in (sales-team.yaml); empty without one. */
  reps: Rep[];
  /** Sends a rep their sign-in link; null when Baton cannot send mail. */
  sendSignInLink: ((rep: Rep, url: string) => Promise<void>) | null;
  logger: Logger;
  /** The embedded sink's mail (development), or false with SMTP_URL. */
  devMail: boolean;
}

const PAGE_SIZE = 50;

export function dashboardRoutes(deps: DashboardDeps): Router {
  const router = Router();
  const kit = createPageKit(deps.devMail);
  const sessions = createDashboardSessions({ db: deps.db, apiKey: deps.apiKey, secret: deps.secret, publicUrl: deps.publicUrl, reps: deps.reps });
  const signedIn = requireSession(sessions);
  const adminOnly = requireAdmin(kit);
  const repOf = (req: Request): string | null => {
    const viewer = viewerOf(req);
    return viewer?.kind === 'rep' ? viewer.rep.id : null;
  };
  const css = kit.css;

  router.get('/dashboard/style.css', (_req, res) => {
    res.type('css').set('Cache-Control', 'public, max-age=300').send(css);
  });

  router.use(
    signInRoutes({ sessions, kit, publicUrl: deps.publicUrl, secureCookies: deps.secureCookies, sendSignInLink: deps.sendSignInLink, logger: deps.logger }),
  );
  router.use(
    experimentPagesRoutes({
      experiments: createExperimentsService({ db: deps.db, sequences: () => deps.runner.sequences(), logger: deps.logger }),
      kit,
      signedIn,
    }),
  );
  router.use(pipelineRoutes({ reporting: deps.services.reporting, kit, signedIn, adminOnly }));
  router.use(handoffPagesRoutes({ handoffs: deps.scoring?.handoffs ?? null, leads: deps.services.leads, sessions, kit, publicUrl: deps.publicUrl }));

  // A rep starts at their handoff inbox; the admin at the sequences.
  router.get('/dashboard', signedIn, (req, res) => res.redirect(303, isAdmin(req) ? '/dashboard/sequences' : '/dashboard/handoffs'));

  router.get('/dashboard/sequences', signedIn, async (req, res) => {
    const sequences = await Promise.all(
      deps.runner.sequences().map(async (sequence) => {
        const counts = await stepCounts(deps.db, sequence.id);
        return {
          ...sequence,
          totals: await enrollmentTotals(deps.db, sequence.id),
          funnel: barChart(
            sequence.steps.filter((step) => step.kind === 'email').map((step) => ({ label: step.id, value: counts.get(step.id)?.sent ?? 0 })),
            `${sequence.name}: emails sent per step`,
          ),
        };
      }),
    );
    kit.page(req, res, 200, 'sequences', 'Sequences', 'sequences', { sequences });
  });

  router.get('/dashboard/sequences/:id', signedIn, async (req, res) => {
    const sequence = deps.runner.sequences().find((candidate) => candidate.id === req.params.id);
    if (!sequence)
      return kit.notice(req, res, 404, 'No such sequence', 'There is no sequence with this id.', { href: '/dashboard/sequences', text: 'All sequences' });
    const counts = await stepCounts(deps.db, sequence.id);
    const steps = sequence.steps.map((step) => ({ id: step.id, kind: step.kind, preview: step.kind === 'email', ...(counts.get(step.id) ?? EMPTY_COUNTS) }));
    const deliverability = await deliverabilityView(deps.db, sequence.id, new Date());
    kit.page(req, res, 200, 'sequence', sequence.name, 'sequences', {
      sequence,
      steps,
      deliverability,
      funnel: barChart(
        steps.map((step) => ({ label: step.id, value: step.entered })),
        `${sequence.name}: leads entering each step`,
      ),
    });
  });

  const stepPreview = (sequenceId: string, stepId: string) => {
    const sequence = deps.runner.sequences().find((candidate) => candidate.id === sequenceId);
    const step = sequence?.steps.find((candidate) => candidate.id === stepId);
    if (!sequence || step?.kind !== 'email') return null;
    const lead = {
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      company: 'Analytical Engines',
      title: 'VP Engineering',
      country: 'GB',
      traits: {},
      tags: [],
    };
    const email = deps.templates.render(
      step.email.template,
      { lead, company: deps.company, links: { unsubscribe: '#unsubscribe' }, sequence: { id: sequence.id, name: sequence.name }, step: { id: step.id } },
      { subject: step.email.subject },
    );
    return { sequence, step, email: { ...email, template: step.email.template } };
  };

  router.get('/dashboard/sequences/:id/steps/:step', signedIn, (req, res) => {
    const preview = stepPreview(String(req.params.id), String(req.params.step));
    if (!preview)
      return kit.notice(req, res, 404, 'No such email step', 'This sequence has no email step with this id.', {
        href: '/dashboard/sequences',
        text: 'All sequences',
      });
    kit.page(req, res, 200, 'step', `${preview.step.id}: ${preview.email.subject}`, 'sequences', {
      sequenceId: preview.sequence.id,
      stepId: preview.step.id,
      email: preview.email,
    });
  });

  router.get('/dashboard/sequences/:id/steps/:step/html', signedIn, (req, res) => {
    const preview = stepPreview(String(req.params.id), String(req.params.step));
    if (!preview) return void res.status(404).type('text').send('No such email step');
    kit.emailHtml(res, preview.email.html);
  });

  router.get('/dashboard/leads', signedIn, async (req, res) => {
    const q = typeof req.query.q === 'string' ? req.query.q.slice(0, 200) : '';
    const sort = req.query.sort === 'score' ? 'score' : 'created';
    const cursor = typeof req.query.cursor === 'string' ? req.query.cursor : null;
    const after = cursor === null ? null : decodeLeadCursor(sort, cursor);
    const listLink = (extra: Record<string, string>) => `/dashboard/leads?${new URLSearchParams({ ...(q ? { q } : {}), ...extra }).toString()}`;
    if (textProblem(q, ['q']) || (cursor !== null && after === null)) {
      return kit.notice(
        req,
        res,
        400,
        'Search not valid',
        `This ${after === null && cursor !== null ? 'page link (cursor)' : 'search (q)'} is not valid. Start again from the first page.`,
        { href: '/dashboard/leads', text: 'All leads' },
      );
    }
    const rows = await listLeadsWithScores(deps.db, { q, sort, limit: PAGE_SIZE, after, repId: repOf(req) });
    const last = rows.length > PAGE_SIZE ? rows[PAGE_SIZE - 1] : undefined;
    const nextPage = last ? listLink({ ...(sort === 'score' ? { sort } : {}), cursor: encodeLeadCursor(positionOf(last, sort)) }) : null;
    kit.page(req, res, 200, 'leads', 'Leads', 'leads', {
      q,
      sort,
      nextPage,
      byScore: listLink({ sort: 'score' }),
      byCreated: listLink({}),
      leads: rows.slice(0, PAGE_SIZE).map((row) => ({
        id: row.id,
        email: row.email,
        name: [row.first_name, row.last_name].filter(Boolean).join(' '),
        company: row.company,
        createdAt: row.created_at,
        score: row.total === null ? '–' : Math.round(row.total * 10) / 10,
        grade: row.grade ?? '–',
        stage: row.stage ?? '–',
      })),
    });
  });

  router.get('/dashboard/leads/:id', signedIn, async (req, res) => {
    const id = String(req.params.id);
    const lead = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id) ? await deps.services.leads.get(id) : null;
    if (!lead)
      return kit.notice(req, res, 404, 'No such lead', 'There is no lead with this address (it may have been erased).', {
        href: '/dashboard/leads',
        text: 'All leads',
      });
    // A rep sees the leads handed to them, not every lead in the database.
    const rep = repOf(req);
    if (rep !== null && !(await wasHandedTo(deps.db, id, rep)))
      return kit.notice(req, res, 403, 'Not your lead', 'This lead was not handed to you. Only its rep, or the admin, can open it.', {
        href: '/dashboard/leads',
        text: 'Your leads',
      });
    const score = deps.scoring ? await deps.scoring.scoring.report(id, new Date()) : null;
    const timeline = await deps.services.events.timeline(id, { limit: 50 });
    const events = (timeline?.items ?? []).map((event) => ({ ...event, machine: event.properties.machine === true, summary: summarise(event.properties) }));
    const scoreChart = score
      ? lineChart(
          [...score.history].reverse().map((entry) => ({ at: new Date(entry.at), value: entry.total })),
          'Score over time',
        )
      : '';
    kit.page(req, res, 200, 'lead', lead.email, 'leads', { lead, tel: lead.phone?.replace(/[^\d+]/g, '') ?? null, score, scoreChart, events });
  });

  if (deps.devMail) {
    // Admin only: the sink holds every rep's sign-in links.
    router.get('/dashboard/mail', signedIn, adminOnly, async (req, res) => {
      const rows = await listDevMail(deps.db, { limit: 100 });
      const messages = await Promise.all(
        rows.map(async (row) => {
          const parsed = await simpleParser(row.raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
          return { id: row.id, receivedAt: row.received_at, to: row.envelope_to.join(', '), subject: parsed.subject ?? '(no subject)' };
        }),
      );
      kit.page(req, res, 200, 'mail', 'Mail caught by the embedded sink', 'mail', { messages });
    });

    router.get('/dashboard/mail/:id/html', signedIn, adminOnly, async (req, res) => {
      const row = /^\d{1,18}$/.test(String(req.params.id)) ? await findDevMail(deps.db, String(req.params.id)) : undefined;
      if (!row) return void res.status(404).type('text').send('No such message');
      const parsed = await simpleParser(row.raw);
      kit.emailHtml(res, parsed.html || `<pre>${escapeHtml(parsed.text ?? '')}</pre>`);
    });

    router.get('/dashboard/mail/:id', signedIn, adminOnly, async (req, res) => {
      const row = /^\d{1,18}$/.test(String(req.params.id)) ? await findDevMail(deps.db, String(req.params.id)) : undefined;
      if (!row) return kit.notice(req, res, 404, 'No such message', 'The sink holds no message with this id.', { href: '/dashboard/mail', text: 'All mail' });
      const parsed = await simpleParser(row.raw);
      const to = Array.isArray(parsed.to) ? parsed.to.map((address) => address.text).join(', ') : (parsed.to?.text ?? '');
      kit.page(req, res, 200, 'message', parsed.subject ?? '(no subject)', 'mail', {
        message: { id: row.id, from: parsed.from?.text ?? '', to, receivedAt: row.received_at, raw: row.raw },
      });
    });
  }

  return router;
}

function positionOf(row: LeadListRow, sort: 'created' | 'score') {
  return sort === 'score' ? ({ sort, score: row.total ?? 0, id: row.id } as const) : ({ sort, at: row.created_at, id: row.id } as const);
}

function summarise(properties: Record<string, unknown>): string {
  const shown = Object.entries(properties).filter(([key]) => !['machine', 'userAgent', 'ipHash', 'sendId', 'linkId'].includes(key));
  return shown
    .map(([key, value]) => `${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' · ')
    .slice(0, 200);
}
