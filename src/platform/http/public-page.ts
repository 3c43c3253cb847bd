import type { Response } from 'express';

/**
 * A small self-contained HTML page for people following links from emails (no scripts, no
 * cookies). Never framed: a framed unsubscribe or accept button could be clicked by trickery.
 */
export function publicPage(res: Response, status: number, title: string, body: string, options: { formActions?: string[] } = {}): void {
  // A form whose thank-you redirects to another site needs that origin here, or the browser stops the redirect.
  const formAction = ["'self'", ...(options.formActions ?? [])].join(' ');
  res
    .status(status)
    .set('Cache-Control', 'no-store')
    .set('Referrer-Policy', 'no-referrer')
    .set('Content-Security-Policy', `default-src 'none'; style-src 'unsafe-inline'; form-action ${formAction}; frame-ancestors 'none'`)
    .set('X-Frame-Options', 'DENY')
    .type('html').send(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1f2933}button{font-size:1rem;padding:.6rem 1.2rem;border-radius:6px;border:0;background:#1d4ed8;color:#fff;cursor:pointer}</style>
</head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char] ?? char);
}
