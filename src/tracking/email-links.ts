import { decodeHTMLAttribute } from 'entities';

/*
 * Finding and replacing the links of a rendered email, keeping every URL exactly as the template
 * wrote it. In HTML an href is attribute text: `&amp;`, and the `&#x3D;`, `&#x27;` and `&#x60;`
 * that Handlebars writes for `=`, `'` and `` ` ``, are decoded as a browser decodes them (the
 * HTML attribute rules of the `entities` package), never by a hand-written replace. In the text
 * part a URL has no delimiter of its own, so the URLs known from the HTML are matched first, whole.
 */

export interface HtmlLink {
  /** Where the attribute value starts and ends in the HTML (quotes excluded). */
  start: number;
  end: number;
  /** The decoded URL, as a browser would follow it. */
  url: string;
}

// The href of an <a> or <area> start tag, quoted or not. Other hrefs (<link> to a web font,
// <base>) are fetched by mail clients on their own, not clicked, so they are not tracked. An
// unquoted value runs to whitespace or `>`, as the HTML tokenizer reads it (`=` included).
const ANCHOR_HREF = /<(?:a|area)\b[^>]*?\shref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi;
const HTTP_URL = /^https?:\/\//i;
// Leading and trailing C0 controls and spaces are stripped by the URL parser (WHATWG URL).
// eslint-disable-next-line no-control-regex -- the URL parser's own definition of the space it strips
const EDGE_SPACE = /^[\u0000-\u0020]+|[\u0000-\u0020]+$/g;

/** The absolute http(s) links of `<a>` and `<area>` tags, in document order. */
export function findHtmlLinks(html: string): HtmlLink[] {
  const links: HtmlLink[] = [];
  for (const match of html.matchAll(ANCHOR_HREF)) {
    const raw = match[1] ?? match[2] ?? match[3] ?? '';
    const end = (match.index ?? 0) + match[0].length - (match[3] === undefined ? 1 : 0);
    const url = decodeHTMLAttribute(raw).replace(EDGE_SPACE, '');
    if (HTTP_URL.test(url)) links.push({ start: end - raw.length, end, url });
  }
  return links;
}

/**
 * Replaces the value of each link `replace` answers for. The new value is written as attribute
 * text (`&` and quotes escaped), so any URL, tracked or kept, survives the trip.
 */
export function rewriteHtmlLinks(html: string, replace: (url: string) => string | null): string {
  let out = '';
  let at = 0;
  for (const link of findHtmlLinks(html)) {
    const next = replace(link.url);
    if (next === null) continue;
    out += html.slice(at, link.start) + escapeAttribute(next);
    at = link.end;
  }
  return out + html.slice(at);
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

// A candidate in plain text: from the scheme to the next whitespace.
const TEXT_CANDIDATE = /https?:\/\/[^\s<>"]+/gi;
// What may follow a URL known from the HTML (html-to-text writes `label [url]`).
const AFTER_URL = /^$|^[\s\]>)"'.,;:!?]/;

/**
 * The links of a text part, each with its span. A URL known from the HTML part counts whole
 * (the longest one the text starts with, followed by a delimiter); any other URL ends before
 * trailing punctuation and unbalanced closing brackets, as mail clients auto-link it.
 */
export function findTextLinks(text: string, known: readonly string[]): Array<{ start: number; end: number; url: string }> {
  const byLength = [...new Set(known)].sort((a, b) => b.length - a.length);
  const links: Array<{ start: number; end: number; url: string }> = [];
  let covered = 0;
  for (const match of text.matchAll(TEXT_CANDIDATE)) {
    const start = match.index ?? 0;
    // A known URL holding `"`, `<` or `>` runs past its candidate: the next candidate is inside it.
    if (start < covered) continue;
    const rest = text.slice(start);
    const whole = byLength.find((url) => rest.startsWith(url) && AFTER_URL.test(rest.slice(url.length, url.length + 1)));
    const url = whole ?? trimTrailing(match[0]);
    links.push({ start, end: start + url.length, url });
    covered = start + url.length;
  }
  return links;
}

export function rewriteTextLinks(text: string, known: readonly string[], replace: (url: string) => string | null): string {
  let out = '';
  let at = 0;
  for (const link of findTextLinks(text, known)) {
    const next = replace(link.url);
    if (next === null) continue;
    out += text.slice(at, link.start) + next;
    at = link.end;
  }
  return out + text.slice(at);
}

const CLOSERS: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

/** Drops sentence punctuation and closing brackets with no opening one inside the URL. */
function trimTrailing(candidate: string): string {
  let url = candidate;
  for (;;) {
    const last = url.at(-1) ?? '';
    if (/[.,;:!?'*]/.test(last)) url = url.slice(0, -1);
    else if (CLOSERS[last] && count(url, CLOSERS[last]) < count(url, last)) url = url.slice(0, -1);
    else return url;
  }
}

function count(text: string, char: string): number {
  return text.split(char).length - 1;
}
