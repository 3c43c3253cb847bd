import { decodeHTMLAttribute } from 'entities';
import Handlebars from 'handlebars';

/*
 * Baton's own Handlebars instance. Escaping stays on ({{x}} escapes HTML), and none of the
 * prototype-access runtime options are ever enabled (prototype-pollution CVEs).
 */
export const handlebars = Handlebars.create();

const SAFE_SCHEMES = new Set(['http:', 'https:']);

// The same few links (a template's own) are checked in every email: remember recent answers.
const checkedUrls = new Map<string, boolean>();
const CHECKED_URLS_KEPT = 1000;

/** Returns the URL when it is http(s), else an empty string: escaping does not stop `javascript:`. */
export function safeUrl(value: unknown): string {
  if (typeof value !== 'string') return '';
  // Without a scheme the parser can only throw, and a thrown error costs more than a fill.
  if (!value.includes(':')) return '';
  let safe = checkedUrls.get(value);
  if (safe === undefined) {
    try {
      safe = SAFE_SCHEMES.has(new URL(value).protocol);
    } catch {
      safe = false;
    }
    if (checkedUrls.size >= CHECKED_URLS_KEPT) checkedUrls.clear();
    checkedUrls.set(value, safe);
  }
  return safe ? value : '';
}

/** The filled value of a placeholder href: kept when http(s), mailto:, tel: or a #fragment, else `#`. */
export function guardHref(rendered: string): string {
  // The filled value is attribute text (Handlebars escaped it): judge the URL a browser would follow.
  const url = decodeHTMLAttribute(rendered).trim();
  const allowed = url.startsWith('#') || /^(mailto|tel):/i.test(url) || safeUrl(url) !== '';
  return allowed ? rendered : '#';
}

/** Baton's inline helpers, by name: registered below, and called directly by fast-fill.ts. */
export const INLINE_HELPERS = {
  url: (value: unknown) => safeUrl(value),
  default: (value: unknown, fallback: unknown) => (value === undefined || value === null || value === '' ? fallback : value),
  upper: (value: unknown) => (typeof value === 'string' ? value.toUpperCase() : value),
  lower: (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value),
  eq: (a: unknown, b: unknown) => a === b,
};

for (const [name, helper] of Object.entries(INLINE_HELPERS)) handlebars.registerHelper(name, helper);
// Wraps every href that holds a placeholder (see guardDynamicHrefs): the filled URL must be
// http(s), mailto:, tel: or a #fragment, or the link goes nowhere.
handlebars.registerHelper('safeHref', function (this: unknown, options: Handlebars.HelperOptions) {
  return new Handlebars.SafeString(guardHref(String(options.fn(this))));
});
