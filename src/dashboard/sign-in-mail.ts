import { escapeHtml } from '../platform/http/public-page.js';
import { LINK_MINUTES } from './sessions.service.js';

/** The email with a rep's sign-in link: transactional, plain, nothing a filter would frown at. */
export function signInMail(input: { repName: string; url: string; company: string }): { subject: string; text: string; html: string } {
  const subject = `Your sign-in link for ${input.company}'s Baton`;
  const text = `Hello ${input.repName},\n\nSign in to Baton with this link. It works once, for ${LINK_MINUTES} minutes:\n\n${input.url}\n\nIf you did not ask for it, ignore this email: nobody can sign in without the link.\n`;
  const html =
    `<p>Hello ${escapeHtml(input.repName)},</p><p>Sign in to Baton with this link. It works once, for ${LINK_MINUTES} minutes:</p>` +
    `<p><a href="${escapeHtml(input.url)}">Sign in to Baton</a></p><p>If you did not ask for it, ignore this email: nobody can sign in without the link.</p>`;
  return { subject, text, html };
}
