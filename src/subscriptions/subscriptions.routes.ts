import express, { Router } from 'express';
import { PAUSE_DAYS, type PauseDays } from '../consent/preferences.service.js';
import { escapeHtml, publicPage as page } from '../platform/http/public-page.js';
import type { PreferenceChange, SubscriptionsService } from './subscriptions.service.js';

/*
 * The signed link in every marketing email: a preference page, public (no API key, no cookies).
 * - POST with List-Unsubscribe=One-Click (RFC 8058, mail clients) unsubscribes from everything and
 *   answers 200 with no redirect, as the RFC requires; so does any POST that asks for nothing
 *   else (the page's own Unsubscribe button, and older links' pages).
 * - POST action=pause (days 30 or 90) pauses all marketing email; action=leave_topic leaves one
 *   topic (a sequence's `topic`). Both are honoured at send time (src/consent).
 * - GET only shows the page, whose buttons POST: scanners and link previews fetch URLs, and a GET
 *   that changed anything would act for people who never asked.
 */

const notRecognised = '<p>This link is not valid. If you copied it, check that it is complete.</p>';

/** `topics`: those the loaded sequences declare. */
export function subscriptionsRoutes(subscriptions: SubscriptionsService, companyName: string, topics: readonly string[] = []): Router {
  const router = Router();
  const company = escapeHtml(companyName);

  router.get('/u/:token', async (req, res) => {
    if (!subscriptions.isValidToken(req.params.token)) return page(res, 404, 'Link not recognised', notRecognised);
    const current = await subscriptions.preferences(req.params.token);
    const title = `Email from ${companyName}`;
    if (current?.unsubscribed) return page(res, 200, title, `<p>You are unsubscribed: you will not receive marketing email from ${company}.</p>`);
    const pausedUntil = current?.pausedUntil && current.pausedUntil.getTime() > Date.now() ? current.pausedUntil : null;
    const left = current?.leftTopics ?? [];
    const open = topics.filter((topic) => !left.includes(topic));
    page(
      res,
      200,
      title,
      `<p>Stop receiving marketing email from ${company}?</p>
<form method="post"><button type="submit">Unsubscribe</button></form>
<h2>Or take a break</h2>
${pausedUntil ? `<p>Email is paused until ${escapeHtml(pausedUntil.toISOString().slice(0, 10))}.</p>` : ''}
<form method="post"><input type="hidden" name="action" value="pause">${PAUSE_DAYS.map((days) => `<p><button type="submit" name="days" value="${days}">Pause all email for ${days} days</button></p>`).join('')}</form>
${open.length > 0 || left.length > 0 ? '<h2>Or leave one topic</h2>' : ''}
${open.map((topic) => `<form method="post"><input type="hidden" name="action" value="leave_topic"><input type="hidden" name="topic" value="${escapeHtml(topic)}"><p><button type="submit">Stop emails about ${escapeHtml(topicLabel(topic))}</button></p></form>`).join('\n')}
${left.length > 0 ? `<p>You left: ${left.map((topic) => escapeHtml(topicLabel(topic))).join(', ')}.</p>` : ''}`,
    );
  });

  router.post('/u/:token', express.urlencoded({ extended: false, limit: '10kb' }), async (req, res) => {
    const body: unknown = req.body;
    const field = (name: string) => (typeof body === 'object' && body !== null && name in body ? (body as Record<string, unknown>)[name] : undefined);
    const oneClick = req.is('multipart/form-data') || field('List-Unsubscribe') === 'One-Click';
    const change = oneClick ? null : preferenceChange(field('action'), field('days'), field('topic'), topics);
    if (change === 'invalid')
      return page(res, 400, 'Choose an option', '<p>That choice is not one this page offers. Go back and press one of its buttons.</p>');
    if (change) {
      if (!(await subscriptions.changePreference(req.params.token, change, new Date()))) return page(res, 404, 'Link not recognised', notRecognised);
      const done =
        change.kind === 'pause'
          ? `<p>Marketing email from ${company} is paused for ${change.days} days.</p>`
          : `<p>You will not receive email about ${escapeHtml(topicLabel(change.topic))} any more.</p>`;
      return page(res, 200, 'Preferences saved', `${done}<p>You can come back to this page from any of our emails.</p>`);
    }
    const outcome = await subscriptions.unsubscribe(req.params.token, oneClick ? 'one_click' : 'page', new Date());
    switch (outcome) {
      case 'invalid_token':
        return page(res, 404, 'Link not recognised', notRecognised);
      case 'unsubscribed':
      case 'already_unsubscribed':
      case 'lead_gone':
        return page(res, 200, 'You are unsubscribed', `<p>You will not receive marketing email from ${company} any more.</p>`);
    }
  });

  return router;
}

/**
 * A pause or a topic asked for by the page; null when no action is named (unsubscribe); 'invalid'
 * for an action with a choice the page does not offer, which must not unsubscribe by surprise.
 */
function preferenceChange(action: unknown, days: unknown, topic: unknown, topics: readonly string[]): PreferenceChange | 'invalid' | null {
  if (action === undefined) return null;
  if (action === 'pause') {
    const chosen = PAUSE_DAYS.find((allowed) => String(allowed) === days);
    return chosen ? { kind: 'pause', days: chosen satisfies PauseDays } : 'invalid';
  }
  if (action === 'leave_topic' && typeof topic === 'string' && topics.includes(topic)) return { kind: 'leave_topic', topic };
  return 'invalid';
}

const topicLabel = (topic: string) => topic.replace(/[-_]+/g, ' ');
