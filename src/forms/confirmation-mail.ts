import { escapeHtml } from '../platform/http/public-page.js';

/*
 * The double opt-in email: transactional (it is sent because the person asked, and is not held
 * back by the consent it asks for), plain, one link to a page whose button confirms.
 */
export function confirmationMail(input: { formTitle: string; url: string; company: string; postalAddress: string }): {
  subject: string;
  text: string;
  html: string;
} {
  const subject = `Please confirm your subscription to ${input.company}`;
  const text =
    `You asked to receive email from ${input.company} (${input.formTitle}).\n\nConfirm with this link:\n\n${input.url}\n\n` +
    `If you did not ask, ignore this email: you will not hear from us.\n\n${input.company}, ${input.postalAddress}\n`;
  const html =
    `<p>You asked to receive email from ${escapeHtml(input.company)} (${escapeHtml(input.formTitle)}).</p>` +
    `<p><a href="${escapeHtml(input.url)}">Confirm my subscription</a></p>` +
    `<p>If you did not ask, ignore this email: you will not hear from us.</p><p>${escapeHtml(input.company)}, ${escapeHtml(input.postalAddress)}</p>`;
  return { subject, text, html };
}
