import { Router, type Request, type Response } from 'express';
import type { Briefing } from '../handoff/briefing.js';
import type { Decider, HandoffAction, HandoffService, HandoffView } from '../handoff/handoff.service.js';
import type { LeadsService } from '../leads/leads.service.js';
import type { HandoffStatus } from '../platform/db/schema.js';
import { decodeCursor } from '../platform/pagination.js';
import { canonicalTimeZone } from '../platform/time-zones.js';
import { field, form, requireSession, sameOrigin, viewerOf, type PageKit } from './dashboard-http.js';
import type { DashboardSessions } from './sessions.service.js';
import { localTimeIn } from './time-words.js';
import { parseDeal } from '../reporting/deal-value.js';

/*
 * The handoff inbox and a handoff's page. A rep sees their own handoffs and may open and decide
 * only those (403 otherwise); the admin sees everyone's. Accept, then Converted or Reject stay
 * on offer until the handoff is closed, and each action is confirmed on the page it returns to.
 */

export interface HandoffPagesDeps {
  handoffs: HandoffService | null;
  leads: LeadsService;
  sessions: DashboardSessions;
  kit: PageKit;
  publicUrl: string;
}

const STATUSES: HandoffStatus[] = ['pending', 'accepted', 'rejected', 'converted'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PAGE_SIZE = 50;
const DONE: Record<HandoffAction, string> = {
  accept: 'Accepted: the lead is yours to work.',
  convert: 'Marked as converted. Well done.',
  reject: 'Rejected: the lead goes back to marketing.',
};
const ACTIONS: HandoffAction[] = ['accept', 'convert', 'reject'];

export function handoffPagesRoutes(deps: HandoffPagesDeps): Router {
  const router = Router();
  const { handoffs, kit } = deps;
  const signedIn = requireSession(deps.sessions);
  const guard = sameOrigin(deps.publicUrl);

  /** The rep a viewer is limited to; null for the admin. */
  const ownRep = (req: Request) => {
    const viewer = viewerOf(req);
    return viewer?.kind === 'rep' ? viewer.rep.id : null;
  };
  const notYours = (req: Request, res: Response) =>
    kit.notice(req, res, 403, 'Not your handoff', 'This handoff belongs to another rep. Only they, or the admin, can open it.', {
      href: '/dashboard/handoffs',
      text: 'Your handoffs',
    });
  const noSuch = (req: Request, res: Response) =>
    kit.notice(req, res, 404, 'No such handoff', 'There is no handoff with this address.', { href: '/dashboard/handoffs', text: 'Your handoffs' });

  router.get('/dashboard/handoffs', signedIn, async (req, res) => {
    const status = STATUSES.find((candidate) => candidate === req.query.status);
    const own = ownRep(req);
    if (!handoffs) return kit.page(req, res, 200, 'handoffs', 'Handoffs', 'handoffs', { handoffs: [], statuses: STATUSES, own });
    let after: { at: Date; id: string } | undefined;
    if (typeof req.query.cursor === 'string') {
      try {
        after = decodeCursor(req.query.cursor);
      } catch {
        return kit.notice(req, res, 400, 'Page link not valid', 'This page link is not valid (cursor). Start again from the first page.', {
          href: '/dashboard/handoffs',
          text: 'First page',
        });
      }
    }
    const list = await handoffs.list({ ...(status ? { status } : {}), ...(own ? { rep: own } : {}), limit: PAGE_SIZE, ...(after ? { after } : {}) });
    const items = await Promise.all(list.items.map(async (item) => ({ ...item, briefing: (await handoffs.get(item.id))?.briefing })));
    const nextPage = list.nextCursor
      ? `/dashboard/handoffs?${new URLSearchParams({ ...(status ? { status } : {}), cursor: list.nextCursor }).toString()}`
      : null;
    kit.page(req, res, 200, 'handoffs', own ? 'Your handoffs' : 'Handoffs', 'handoffs', { handoffs: items, status, statuses: STATUSES, own, nextPage });
  });

  router.get('/dashboard/handoffs/:id', signedIn, async (req, res) => {
    const id = String(req.params.id);
    const handoff = handoffs && UUID.test(id) ? await handoffs.get(id) : null;
    if (!handoff) return noSuch(req, res);
    const own = ownRep(req);
    if (own && handoff.rep.id !== own) return notYours(req, res);
    const briefing: Briefing = handoff.briefing;
    const lead = await deps.leads.get(handoff.leadId);
    const done = ACTIONS.find((action) => action === req.query.done);
    kit.page(req, res, 200, 'handoff', `${briefing.who.name}${briefing.who.company ? ` · ${briefing.who.company}` : ''}`, 'handoffs', {
      handoff,
      b: briefing,
      ...actionsFor(handoff),
      decidedBy: handoff.decidedBy === `rep:${handoff.rep.id}` && 'name' in handoff.rep ? handoff.rep.name : handoff.decidedBy,
      confirmation: done ? DONE[done] : null,
      contact: {
        email: lead?.email ?? briefing.who.email,
        phone: lead?.phone ?? null,
        // tel: takes digits and a leading +; the number is shown as the lead gave it.
        tel: lead?.phone ? lead.phone.replace(/[^\d+]/g, '') : null,
        // Stored zones were checked on the way in; a zone this Node does not know shows as unknown.
        localTime: lead?.timezone && canonicalTimeZone(lead.timezone) ? localTimeIn(lead.timezone, new Date()) : null,
        companySize: companySize(lead?.traits.company_size),
        leadPage: `/dashboard/leads/${handoff.leadId}`,
      },
    });
  });

  for (const action of ACTIONS) {
    router.post(`/dashboard/handoffs/:id/${action}`, guard, signedIn, form, async (req, res) => {
      const id = String(req.params.id ?? '');
      const current = handoffs && UUID.test(id) ? await handoffs.get(id) : null;
      if (!handoffs || !current) return noSuch(req, res);
      const own = ownRep(req);
      if (own && current.rep.id !== own) return notYours(req, res);
      const by: Decider = own ? { kind: 'rep', repId: own } : { kind: 'dashboard' };
      const reason = action === 'reject' ? field(req, 'reason').trim().slice(0, 500) || undefined : undefined;
      const parsed = action === 'convert' ? parseDeal(field(req, 'value').trim(), field(req, 'currency').trim()) : { ok: true as const, deal: null };
      if (!parsed.ok)
        return kit.notice(req, res, 400, 'Check the deal', `${parsed.message}. Nothing changed.`, {
          href: `/dashboard/handoffs/${id}`,
          text: 'Back to the handoff',
        });
      const outcome = await handoffs.decide(id, action, new Date(), by, { reason, deal: parsed.deal });
      switch (outcome.kind) {
        case 'done':
          return res.redirect(303, `/dashboard/handoffs/${id}?done=${action}`);
        case 'not_found':
          return noSuch(req, res);
        case 'not_yours':
          return notYours(req, res);
        case 'conflict':
          return kit.notice(req, res, 409, 'Already decided', `This handoff is already ${outcome.handoff.status}; nothing changed.`, {
            href: `/dashboard/handoffs/${id}`,
            text: 'Back to the handoff',
          });
      }
    });
  }

  return router;
}

/** Which buttons a handoff offers: Accept while pending; Converted and Reject until it is closed. */
function actionsFor(handoff: HandoffView): { canAccept: boolean; canClose: boolean } {
  return { canAccept: handoff.status === 'pending', canClose: handoff.status === 'pending' || handoff.status === 'accepted' };
}

function companySize(value: unknown): string | null {
  if (typeof value === 'number' && Number.isFinite(value)) return `${value.toLocaleString('en-GB')} ${value === 1 ? 'employee' : 'employees'}`;
  return typeof value === 'string' && value.trim() ? value.trim() : null;
}
