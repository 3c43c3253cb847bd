import express, { Router } from 'express';
import Joi from 'joi';
import { uuidSchema } from '../leads/leads.schemas.js';
import { decodeCursor } from '../platform/pagination.js';
import { AppError, validationError } from '../platform/errors.js';
import { parseDeal } from '../reporting/deal-value.js';
import { jsonBody } from '../platform/http/json-body.js';
import { escapeHtml, publicPage } from '../platform/http/public-page.js';
import { validate } from '../platform/http/validate.js';
import { documented } from '../platform/http/openapi.js';
import type { HandoffStatus } from '../platform/db/schema.js';
import type { DecisionOutcome, HandoffAction, HandoffService } from './handoff.service.js';

const idParams = Joi.object<{ id: string }>({ id: uuidSchema.required() });
const listQuery = Joi.object<{ status?: HandoffStatus; rep?: string; leadId?: string; limit: number; cursor?: string }>({
  status: Joi.string().valid('pending', 'accepted', 'rejected', 'converted'),
  rep: Joi.string().max(64),
  leadId: uuidSchema,
  limit: Joi.number().integer().min(1).max(200).default(50),
  cursor: Joi.string().max(200),
});
const rejectBody = Joi.object<{ reason?: string; disqualify: boolean }>({
  reason: Joi.string().trim().max(500).allow(''),
  disqualify: Joi.boolean().default(false),
}).default({});
const emptyBody = Joi.object({}).default({});
const convertBody = Joi.object<{ value?: number | string | null; currency?: string | null }>({
  value: Joi.alternatives(Joi.number(), Joi.string().max(40)).allow(null),
  currency: Joi.string().max(40).allow(null),
}).default({});

const handoffNotFound = (id: string) =>
  new AppError('handoff_not_found', `No handoff has id ${id}`, [{ field: 'id', location: 'path', message: 'no handoff has this id' }]);

function answer(outcome: DecisionOutcome, id: string, action: HandoffAction) {
  if (outcome.kind === 'not_found') throw handoffNotFound(id);
  if (outcome.kind === 'conflict' || outcome.kind === 'not_yours') {
    throw new AppError(
      'handoff_decided',
      `Handoff ${id} is already ${outcome.handoff.status}; it cannot be ${action === 'accept' ? 'accepted' : `${action}ed`} now`,
      { status: outcome.handoff.status },
    );
  }
  return outcome.handoff;
}

/** `/api/handoffs…`: what sales and integrations call with the API key. */
export function handoffApiRoutes(handoffs: HandoffService): Router {
  const router = Router();

  router.get(
    '/handoffs',
    documented({ tag: 'handoffs', summary: 'List handoffs to sales', query: listQuery, responses: { 200: { description: 'a page of handoffs' } } }),
    async (req, res) => {
      const query = validate(listQuery, req.query, 'query');
      res.json(await handoffs.list({ ...query, after: query.cursor ? decodeCursor(query.cursor) : undefined }));
    },
  );

  router.get(
    '/handoffs/:id',
    documented({ tag: 'handoffs', summary: 'One handoff with its briefing', params: idParams, responses: { 200: { description: 'the handoff' } } }),
    async (req, res) => {
      const { id } = validate(idParams, req.params, 'path');
      const handoff = await handoffs.get(id);
      if (!handoff) throw handoffNotFound(id);
      res.json(handoff);
    },
  );

  router.post(
    '/handoffs/:id/accept',
    documented({ tag: 'handoffs', summary: 'Accept a handoff', params: idParams, body: emptyBody, responses: { 200: { description: 'the handoff' } } }),
    ...jsonBody('10kb'),
    async (req, res) => {
      const { id } = validate(idParams, req.params, 'path');
      validate(emptyBody, req.body, 'body');
      res.json(answer(await handoffs.decide(id, 'accept', new Date(), { kind: 'api' }), id, 'accept'));
    },
  );

  // Optional deal: `{ value, currency }` (ISO 4217), both or neither.
  router.post(
    '/handoffs/:id/convert',
    documented({
      tag: 'handoffs',
      summary: 'Mark a handoff as converted, with an optional deal value and ISO 4217 currency (both or neither)',
      params: idParams,
      body: convertBody,
      responses: { 200: { description: 'the handoff' } },
    }),
    ...jsonBody('10kb'),
    async (req, res) => {
      const { id } = validate(idParams, req.params, 'path');
      const body = validate(convertBody, req.body, 'body');
      const parsed = parseDeal(body.value, body.currency);
      if (!parsed.ok) throw validationError([{ field: parsed.field, location: 'body', message: parsed.message }]);
      res.json(answer(await handoffs.decide(id, 'convert', new Date(), { kind: 'api' }, { deal: parsed.deal }), id, 'convert'));
    },
  );

  router.post(
    '/handoffs/:id/reject',
    documented({
      tag: 'handoffs',
      summary: 'Reject a handoff: the lead goes back to nurture (or is disqualified)',
      params: idParams,
      body: rejectBody,
      responses: { 200: { description: 'the handoff' } },
    }),
    ...jsonBody('10kb'),
    async (req, res) => {
      const { id } = validate(idParams, req.params, 'path');
      const { reason, disqualify } = validate(rejectBody, req.body, 'body');
      res.json(answer(await handoffs.decide(id, 'reject', new Date(), { kind: 'api' }, { reason, disqualify }), id, 'reject'));
    },
  );

  router.get(
    '/scoring/rejections',
    documented({
      tag: 'scoring',
      summary: 'Rejected handoffs counted by the scoring rules that had fired',
      responses: { 200: { description: 'counts per rule' } },
    }),
    async (_req, res) => {
      res.json({ items: await handoffs.rejectionsByRule() });
    },
  );

  return router;
}

const VERB: Record<HandoffAction, { button: string; done: string }> = {
  accept: { button: 'Accept this lead', done: 'accepted' },
  reject: { button: 'Reject this lead', done: 'rejected: it goes back to marketing' },
  convert: { button: 'Mark as converted', done: 'marked as converted' },
};

/**
 * `/h/:token`: the accept, reject and convert links in the rep's email. Like unsubscribe links,
 * GET only shows a confirmation page (mail scanners fetch links), and the form's POST acts.
 */
export function handoffLinkRoutes(handoffs: HandoffService): Router {
  const router = Router();
  const notRecognised = '<p>This link is not valid. If you copied it, check that it is complete.</p>';

  const expired = '<p>This link has expired. Decide from the handoff list, or through the API.</p>';

  router.get('/h/:token', async (req, res) => {
    const link = handoffs.readActionToken(req.params.token, new Date());
    const handoff = link ? await handoffs.get(link.id) : null;
    if (!link || !handoff) return publicPage(res, 404, 'Link not recognised', notRecognised);
    if (link.expired) return publicPage(res, 410, 'Link expired', expired);
    const who = `${escapeHtml(handoff.briefing.who.name)}${handoff.briefing.who.company ? ` (${escapeHtml(handoff.briefing.who.company)})` : ''}`;
    const reason =
      link.action === 'reject'
        ? '<p><label>Why? <input name="reason" maxlength="500" placeholder="e.g. student, no budget, competitor"></label></p>'
        : link.action === 'convert'
          ? DEAL_FIELDS
          : '';
    publicPage(
      res,
      200,
      VERB[link.action].button,
      `<p>${who}, handed to you ${escapeHtml(handoff.createdAt.slice(0, 10))}; now ${escapeHtml(handoff.status)}.</p>
<form method="post">${reason}<button type="submit">${VERB[link.action].button}</button></form>`,
    );
  });

  router.post('/h/:token', express.urlencoded({ extended: false, limit: '10kb' }), async (req, res) => {
    const link = handoffs.readActionToken(req.params.token, new Date());
    if (!link) return publicPage(res, 404, 'Link not recognised', notRecognised);
    if (link.expired) return publicPage(res, 410, 'Link expired', expired);
    const body: unknown = req.body;
    const given =
      typeof body === 'object' && body !== null && 'reason' in body && typeof body.reason === 'string' ? body.reason.trim().slice(0, 500) : undefined;
    const parsed = link.action === 'convert' ? parseDeal(formField(body, 'value'), formField(body, 'currency')) : { ok: true as const, deal: null };
    if (!parsed.ok) return publicPage(res, 400, 'Check the deal', `<p>${escapeHtml(parsed.message)}. Go back and correct the ${parsed.field}.</p>`);
    const outcome = await handoffs.decide(link.id, link.action, new Date(), { kind: 'rep', repId: link.repId }, { reason: given, deal: parsed.deal });
    if (outcome.kind === 'not_found') return publicPage(res, 404, 'Link not recognised', notRecognised);
    if (outcome.kind === 'not_yours')
      return publicPage(res, 409, 'Reassigned', '<p>This lead went to another rep after the time to answer passed; nothing changed.</p>');
    if (outcome.kind === 'conflict')
      return publicPage(res, 409, 'Already decided', `<p>This lead is already ${escapeHtml(outcome.handoff.status)}; nothing changed.</p>`);
    publicPage(res, 200, 'Done', `<p>The lead is ${VERB[link.action].done}.</p>`);
  });

  return router;
}

/** The deal's value and currency, optional, on the convert confirmation page. */
const DEAL_FIELDS =
  '<p><label>Deal value (optional) <input name="value" inputmode="decimal" maxlength="20" placeholder="e.g. 12000"></label> ' +
  '<label>Currency <input name="currency" maxlength="3" size="4" placeholder="EUR" autocapitalize="characters"></label></p>';

function formField(body: unknown, name: string): string | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const value: unknown = Object.getOwnPropertyDescriptor(body, name)?.value;
  return typeof value === 'string' ? value.trim() : undefined;
}
