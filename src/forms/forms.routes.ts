import express, { Router, type Response } from 'express';
import { createThrottle } from '../dashboard/sign-in-throttle.js';
import { AppError, validationError } from '../platform/errors.js';
import { escapeHtml, publicPage } from '../platform/http/public-page.js';
import type { FormDefinition } from './form.js';
import { renderFormBody } from './form-page.js';
import type { FormsService, SubmitOutcome } from './forms.service.js';

/*
 * Public forms: no API key, no cookies.
 * - GET /forms/:id serves the form; POST /forms/:id takes it as application/x-www-form-urlencoded
 *   (a browser, from Baton's page or from the marketer's own HTML) or JSON (a script).
 * - Origins: a browser's POST names its page's origin. Baton's own origin and the form's
 *   `allowed_origins` are accepted, any other is refused (403); a request without Origin (a
 *   server posting) is accepted. JSON from an allowed origin gets CORS headers (and its preflight).
 * - Bots: a filled honeypot is thanked and dropped; Baton's own page carries a signed time
 *   token (minimum fill time); every IP address has SUBMITS_PER_WINDOW submits per window.
 * - Answers never say anything about a stored lead: the same thank-you for every address.
 * - The double opt-in link (GET /forms/confirm/:token) only shows a button; its POST confirms, so
 *   a mail scanner fetching the link confirms nothing.
 */

const SUBMITS_PER_WINDOW = 10;
const WINDOW_MS = 10 * 60_000;
const BODY_LIMIT = '20kb';

export function formsRoutes(forms: FormsService): Router {
  const router = Router();
  const ownOrigin = forms.publicOrigin;
  const throttle = createThrottle({ limit: SUBMITS_PER_WINDOW, windowMs: WINDOW_MS });

  const notFoundPage = (res: Response) => publicPage(res, 404, 'Form not found', '<p>There is no form at this address. Check the link you followed.</p>');
  const invalidLinkPage = (res: Response) =>
    publicPage(
      res,
      404,
      'Link not recognised',
      '<p>This confirmation link is not valid or has expired. If you copied it, check that it is complete; otherwise, fill in the form again.</p>',
    );

  router.get('/forms/confirm/:token', async (req, res) => {
    const title = await forms.confirmationTitle(req.params.token);
    if (title === null) return invalidLinkPage(res);
    publicPage(
      res,
      200,
      'Confirm your subscription',
      `<p>You asked to receive email from us (${escapeHtml(title)}). Press the button to confirm.</p>
<form method="post"><button type="submit">Yes, confirm my subscription</button></form>`,
    );
  });

  router.post('/forms/confirm/:token', async (req, res) => {
    const outcome = await forms.confirm(req.params.token, { ip: req.ip ?? null, userAgent: req.get('user-agent')?.slice(0, 500) ?? null, now: new Date() });
    switch (outcome.kind) {
      case 'invalid_link':
        return invalidLinkPage(res);
      case 'confirmed':
      case 'already_confirmed':
        return publicPage(
          res,
          200,
          'Subscription confirmed',
          `<p>Thank you: your subscription (${escapeHtml(outcome.formTitle)}) is confirmed. Every email has a link to change your preferences or unsubscribe.</p>`,
        );
    }
  });

  router.get('/forms/:id', (req, res) => {
    const form = forms.forms.get(req.params.id);
    if (!form) return notFoundPage(res);
    publicPage(res, 200, form.title, renderFormBody({ form, startedToken: forms.startedToken(form.id, new Date()) }), pageOptions(form));
  });

  router.options('/forms/:id', (req, res) => {
    const form = forms.forms.get(req.params.id);
    const origin = req.get('origin');
    if (form && origin && form.allowedOrigins.includes(origin)) {
      res
        .set('Access-Control-Allow-Origin', origin)
        .set('Vary', 'Origin')
        .set('Access-Control-Allow-Methods', 'POST')
        .set('Access-Control-Allow-Headers', 'Content-Type')
        .set('Access-Control-Max-Age', '600');
    }
    res.status(204).end();
  });

  router.post(
    '/forms/:id',
    (req, res, next) => {
      const wantsJson = req.is('application/json') === 'application/json';
      const form = forms.forms.get(req.params.id);
      if (!form) return wantsJson ? next(new AppError('form_not_found', `No form has the id "${req.params.id.slice(0, 100)}"`)) : notFoundPage(res);
      const origin = originOf(req.get('origin'));
      const fromAllowedSite = origin !== undefined && form.allowedOrigins.includes(origin);
      if (origin !== undefined && origin !== ownOrigin && !fromAllowedSite) {
        if (wantsJson)
          return next(
            new AppError(
              'form_origin_not_allowed',
              `This form does not accept submits from ${origin.slice(0, 200)}; add the site to the form's allowed_origins`,
            ),
          );
        return publicPage(res, 403, 'Form not accepted here', '<p>This form cannot be sent from the page you are on.</p>');
      }
      if (fromAllowedSite) res.set('Access-Control-Allow-Origin', origin).set('Vary', 'Origin');
      const key = req.ip ?? 'unknown';
      const now = new Date();
      const wait = throttle.retryAfterMs(key, now);
      if (wait !== null) {
        res.set('Retry-After', String(Math.ceil(wait / 1000)));
        if (wantsJson) return next(new AppError('form_rate_limited', 'Too many submits from your address; try again later'));
        return publicPage(res, 429, 'Please try again later', '<p>We received too many forms from your connection. Please try again in a few minutes.</p>');
      }
      throttle.count(key, now);
      next();
    },
    express.urlencoded({ extended: false, limit: BODY_LIMIT, parameterLimit: 100 }),
    express.json({ limit: BODY_LIMIT }),
    async (req, res) => {
      const form = forms.forms.get(req.params.id);
      if (!form) return notFoundPage(res);
      const wantsJson = req.is('application/json') === 'application/json';
      if (!wantsJson && !req.is('application/x-www-form-urlencoded')) {
        throw new AppError('unsupported_media_type', 'Send the form as application/x-www-form-urlencoded or application/json', [
          { field: 'Content-Type', location: 'header', message: 'Content-Type must be application/x-www-form-urlencoded or application/json' },
        ]);
      }
      const body: unknown = req.body;
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        throw validationError([{ field: 'body', location: 'body', message: 'body must be an object of form fields' }]);
      const origin = originOf(req.get('origin'));
      const outcome = await forms.submit(form, body as Record<string, unknown>, {
        ip: req.ip ?? null,
        userAgent: req.get('user-agent')?.slice(0, 500) ?? null,
        now: new Date(),
        fromAllowedSite: origin !== undefined && form.allowedOrigins.includes(origin),
      });
      if (wantsJson) return answerJson(res, form, outcome);
      answerPage(res, form, outcome, forms.startedToken(form.id, new Date()));
    },
  );

  return router;
}

/**
 * "null" is what a browser sends from a page that hides its referrer (Baton's own pages do:
 * Referrer-Policy no-referrer) or from a sandboxed frame: no origin known, as for a server's post.
 * Such a submit needs the fill-time token that only Baton's page carries.
 */
const originOf = (header: string | undefined) => (header === undefined || header === 'null' ? undefined : header);

function answerJson(res: Response, form: FormDefinition, outcome: SubmitOutcome): void {
  switch (outcome.kind) {
    case 'accepted':
    case 'discarded':
      res.status(200).json(form.thankYou.kind === 'redirect' ? { ok: true, redirect: form.thankYou.url } : { ok: true, message: form.thankYou.message });
      return;
    case 'invalid':
      throw validationError(outcome.errors.map((error) => ({ field: error.field, location: 'body' as const, message: error.message })));
    case 'retry':
      throw validationError([{ field: 'baton_started', location: 'body', message: outcome.notice }]);
  }
}

function answerPage(res: Response, form: FormDefinition, outcome: SubmitOutcome, startedToken: string): void {
  switch (outcome.kind) {
    case 'accepted':
    case 'discarded':
      if (form.thankYou.kind === 'redirect') return void res.redirect(303, form.thankYou.url);
      return publicPage(res, 200, 'Thank you', `<p>${escapeHtml(form.thankYou.message)}</p>`);
    case 'invalid':
      return publicPage(res, 400, form.title, renderFormBody({ form, startedToken, values: outcome.values, errors: outcome.errors }), pageOptions(form));
    case 'retry':
      return publicPage(res, 400, form.title, renderFormBody({ form, startedToken, values: outcome.values, notice: outcome.notice }), pageOptions(form));
  }
}

/** A thank-you redirect to another site is a navigation the page's form-action must allow. */
function pageOptions(form: FormDefinition): { formActions: string[] } {
  return { formActions: form.thankYou.kind === 'redirect' ? [new URL(form.thankYou.url).origin] : [] };
}
