import { createHash } from 'node:crypto';
import { convert } from 'html-to-text';
import mjml2html from 'mjml';
import { handlebars } from './handlebars-env.js';
import type { TemplateMeta, TemplateProblem, TemplateSource } from './template-source.js';

/*
 * Compiling MJML takes milliseconds per email; filling Handlebars takes microseconds. So each
 * template is composed (layout + partials), compiled to HTML and to plain text once, with its
 * Handlebars placeholders still in place, and only the fill runs per email.
 */

export const CONTENT_SLOT = '<!-- content -->';
const PARTIAL_TAG = /\{\{>\s*([\w-]+)\s*\}\}/g;

// No @data variables (@index, @root…): templates do not need them and tracking them costs per fill.
const COMPILE_OPTIONS: CompileOptions = { data: false };

export interface CompiledTemplate {
  name: string;
  /** Content hash of everything the template is built from: changes when any part changes. */
  version: string;
  meta: TemplateMeta;
  subject: HandlebarsTemplateDelegate;
  preheader: HandlebarsTemplateDelegate;
  html: HandlebarsTemplateDelegate;
  text: HandlebarsTemplateDelegate;
}

export interface TemplateParts {
  layouts: Map<string, string>;
  partials: Map<string, string>;
}

export type CompileResult = { ok: true; template: CompiledTemplate } | { ok: false; problems: TemplateProblem[] };

/** Puts the body into its layout and expands `{{> partial}}` tags (not recursively beyond 5 levels). */
export function composeMjml(source: TemplateSource, parts: TemplateParts): { mjml: string; problems: string[] } {
  const problems: string[] = [];
  let mjml = source.body;
  if (source.meta.layout) {
    const layout = parts.layouts.get(source.meta.layout);
    if (layout === undefined) problems.push(`layout "${source.meta.layout}" does not exist (known: ${[...parts.layouts.keys()].join(', ') || 'none'})`);
    else if (!layout.includes(CONTENT_SLOT)) problems.push(`layout "${source.meta.layout}" has no ${CONTENT_SLOT} slot`);
    else mjml = layout.replace(CONTENT_SLOT, () => source.body);
  }
  for (let depth = 0; depth < 5 && PARTIAL_TAG.test(mjml); depth++) {
    mjml = mjml.replace(PARTIAL_TAG, (_tag, name: string) => {
      const partial = parts.partials.get(name);
      if (partial === undefined) {
        problems.push(`partial "${name}" does not exist (known: ${[...parts.partials.keys()].join(', ') || 'none'})`);
        return '';
      }
      return partial;
    });
  }
  if (problems.length === 0 && !/^\s*<mjml[\s>]/.test(mjml)) problems.push('the template (with its layout) must be a whole <mjml> document');
  return { mjml, problems };
}

export async function compileTemplate(source: TemplateSource, parts: TemplateParts): Promise<CompileResult> {
  const problem = (message: string, line: number | null = null): TemplateProblem => ({ file: source.file, line, message });
  const composed = composeMjml(source, parts);
  if (composed.problems.length > 0) return { ok: false, problems: composed.problems.map((message) => problem(message)) };

  const problems: TemplateProblem[] = [];
  // A line inside a layout-composed document does not map back to one file, so none is given.
  const fileLine = (line: number) => (source.meta.layout ? null : source.bodyLine + line - 1);
  let html = '';
  try {
    // Strict validation throws one error carrying every MJML problem; `mj-include` stays off.
    html = (await mjml2html(composed.mjml, { validationLevel: 'strict', fonts: {}, keepComments: false, ignoreIncludes: true })).html;
  } catch (error) {
    for (const detail of mjmlErrorDetails(error)) problems.push(problem(`MJML: ${detail.message}`, detail.line === null ? null : fileLine(detail.line)));
    return { ok: false, problems };
  }
  const texts = { subject: source.meta.subject, preheader: source.meta.preheader, html };
  for (const [part, text] of Object.entries(texts)) {
    try {
      handlebars.parse(text);
    } catch (error) {
      problems.push(problem(`Handlebars in ${part}: ${(error as Error).message.split('\n')[0]}`));
    }
  }
  if (problems.length > 0) return { ok: false, problems };

  // No wrapping: lines are wrapped before placeholders are filled, so wrapping here would break them oddly.
  const plainText = convert(html, { wordwrap: false, selectors: [{ selector: 'img', format: 'skip' }] });
  return {
    ok: true,
    template: {
      name: source.name,
      version: createHash('sha256').update(JSON.stringify(source.meta)).update(composed.mjml).digest('hex').slice(0, 16),
      meta: source.meta,
      subject: handlebars.compile(source.meta.subject, { ...COMPILE_OPTIONS, noEscape: true }),
      preheader: handlebars.compile(source.meta.preheader, { ...COMPILE_OPTIONS, noEscape: true }),
      html: handlebars.compile(guardDynamicHrefs(html), COMPILE_OPTIONS),
      text: handlebars.compile(plainText, { ...COMPILE_OPTIONS, noEscape: true }),
    },
  };
}

function mjmlErrorDetails(error: unknown): Array<{ message: string; line: number | null }> {
  const errors = typeof error === 'object' && error !== null && 'errors' in error && Array.isArray(error.errors) ? error.errors : [error];
  return errors.map((entry: unknown) => {
    const record = typeof entry === 'object' && entry !== null ? (entry as Record<string, unknown>) : {};
    return {
      message: typeof record.message === 'string' ? record.message : String(entry),
      line: typeof record.line === 'number' ? record.line : null,
    };
  });
}

/**
 * Escaping stops markup, not `javascript:` URLs. Only an href with a placeholder can change per
 * lead, so only those are wrapped in the `safeHref` block helper, which checks the filled URL.
 * Checking every href of every rendered email instead would cost more than the fill itself.
 */
export function guardDynamicHrefs(html: string): string {
  return html.replace(/href="([^"]*\{\{[^"]*)"/g, (_whole, value: string) => `href="{{#safeHref}}${value}{{/safeHref}}"`);
}
