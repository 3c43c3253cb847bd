import Handlebars from 'handlebars';

/*
 * Baton's own Handlebars instance. Escaping stays on ({{x}} escapes HTML), and none of the
 * prototype-access runtime options are ever enabled (prototype-pollution CVEs).
 */
export const handlebars = Handlebars.create();

const SAFE_SCHEMES = new Set(['http:', 'https:']);

/** Returns the URL when it is http(s), else an empty string: escaping does not stop `javascript:`. */
export function safeUrl(value: unknown): string {
  if (typeof value !== 'string') return '';
  try {
    return SAFE_SCHEMES.has(new URL(value).protocol) ? value : '';
  } catch {
    return '';
  }
}

handlebars.registerHelper('url', (value: unknown) => safeUrl(value));
// Wraps every href that holds a placeholder (see guardDynamicHrefs): the filled URL must be
// http(s), mailto:, tel: or a #fragment, or the link goes nowhere.
handlebars.registerHelper('safeHref', function (this: unknown, options: Handlebars.HelperOptions) {
  const rendered = String(options.fn(this));
  const url = rendered.replace(/&amp;/g, '&').trim();
  const allowed = url.startsWith('#') || /^(mailto|tel):/i.test(url) || safeUrl(url) !== '';
  return new Handlebars.SafeString(allowed ? rendered : '#');
});
handlebars.registerHelper('default', (value: unknown, fallback: unknown) => (value === undefined || value === null || value === '' ? fallback : value));
handlebars.registerHelper('upper', (value: unknown) => (typeof value === 'string' ? value.toUpperCase() : value));
handlebars.registerHelper('lower', (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value));
handlebars.registerHelper('eq', (a: unknown, b: unknown) => a === b);
