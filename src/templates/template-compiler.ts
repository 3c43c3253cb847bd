import { createHash } from 'node:crypto';
import { convert } from 'html-to-text';
import { compileFill, withFallback } from './fast-fill.js';
import { handlebars, INLINE_HELPERS } from './handlebars-env.js';
import { describeHandlebarsError } from './handlebars-problems.js';
import type { MjmlCompiler } from './mjml-worker.js';
import type { TemplateMeta, TemplateProblem, TemplateSource } from './template-source.js';

/*
 * Compiling MJML takes milliseconds per email; filling Handlebars takes microseconds. So each
 * template is composed (layout + partials), compiled to HTML and to plain text once, with its
 * Handlebars placeholders still in place, and only the fill runs per email.
 */

export const CONTENT_SLOT = '<!-- content -->';
const PARTIAL_TAG = /\{\{>\s*([\w-]+)\s*\}\}/g;

// No @data variables (@index, @root…): templates do not need them and tracking them costs per fill.
// Only Baton's helpers (and Handlebars' block helpers) may be called.
const COMPILE_OPTIONS: CompileOptions = {
  data: false,
  knownHelpersOnly: true,
  knownHelpers: { url: true, safeHref: true, default: true, upper: true, lower: true, eq: true, if: true, unless: true, each: true, with: true },
};

/** What a template may call, as listed in error messages (safeHref is Baton's own, added to links). */
const HELPER_NAMES = Object.keys(COMPILE_OPTIONS.knownHelpers ?? {}).filter((name) => name !== 'safeHref');

/**
 * Compiled once per template: the fill of fast-fill.ts when the text stays within its subset
 * (every example template does), else Handlebars' own; both render the same.
 */
function compileText(text: string, noEscape: boolean): HandlebarsTemplateDelegate {
  const template = handlebars.compile(text, { ...COMPILE_OPTIONS, noEscape });
  return withFallback(compileFill(text, INLINE_HELPERS, { noEscape }), (context) => template(context));
}

/** A header-like text (subject, preheader): no HTML escaping. */
function compilePlain(text: string): HandlebarsTemplateDelegate {
  if (!text.includes('{{') && !text.includes('\\')) return () => text;
  return compileText(text, true);
}

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

export interface ComposedMjml {
  mjml: string;
  problems: string[];
  /** The template file's line behind a line of `mjml`, or null for a line of the layout's own. */
  fileLineAt(line: number): number | null;
}

const HAS_PARTIAL_TAG = /\{\{>\s*[\w-]+\s*\}\}/;

/** Expands `{{> partial}}` tags, not recursively beyond 5 levels. */
function expandPartials(text: string, parts: TemplateParts, problems: string[]): string {
  let expanded = text;
  for (let depth = 0; depth < 5 && HAS_PARTIAL_TAG.test(expanded); depth++) {
    expanded = expanded.replace(PARTIAL_TAG, (_tag, name: string) => {
      const partial = parts.partials.get(name);
      if (partial === undefined) {
        problems.push(`partial "${name}" does not exist (known: ${[...parts.partials.keys()].join(', ') || 'none'})`);
        return '';
      }
      return partial;
    });
  }
  return expanded;
}

/**
 * Puts the body into its layout and expands `{{> partial}}` tags. The body is expanded line by
 * line (a tag never spans lines), so an MJML error in the composed document can be reported on
 * the line the marketer wrote: a line of an included partial maps to the line that includes it.
 */
export function composeMjml(source: TemplateSource, parts: TemplateParts): ComposedMjml {
  const problems: string[] = [];
  const bodyLines = source.body.split('\n').map((line) => expandPartials(line, parts, problems));
  const body = bodyLines.join('\n');
  let mjml = body;
  let bodyStart = 1;
  if (source.meta.layout) {
    const layout = parts.layouts.get(source.meta.layout);
    if (layout === undefined) problems.push(`layout "${source.meta.layout}" does not exist (known: ${[...parts.layouts.keys()].join(', ') || 'none'})`);
    else if (!layout.includes(CONTENT_SLOT)) problems.push(`layout "${source.meta.layout}" has no ${CONTENT_SLOT} slot`);
    else {
      const expandedLayout = expandPartials(layout, parts, problems);
      const slot = expandedLayout.indexOf(CONTENT_SLOT);
      bodyStart = expandedLayout.slice(0, slot).split('\n').length;
      mjml = expandedLayout.slice(0, slot) + body + expandedLayout.slice(slot + CONTENT_SLOT.length);
    }
  }
  if (/\{\{>/.test(mjml)) problems.push('a partial is included as {{> name}}, without arguments, at most 5 levels deep');
  if (problems.length === 0 && !/^\s*<mjml[\s>]/.test(mjml)) problems.push('the template (with its layout) must be a whole <mjml> document');
  const heights = bodyLines.map((line) => line.split('\n').length);
  const fileLineAt = (line: number): number | null => {
    let offset = line - bodyStart;
    if (offset < 0) return null;
    for (const [index, height] of heights.entries()) {
      if (offset < height) return source.bodyLine + index;
      offset -= height;
    }
    return null;
  };
  return { mjml, problems, fileLineAt };
}

export async function compileTemplate(source: TemplateSource, parts: TemplateParts, mjml: MjmlCompiler): Promise<CompileResult> {
  const problem = (message: string, line: number | null = null): TemplateProblem => ({ file: source.file, line, message });
  // The marketer's own text first, so a mistake is reported on the line they wrote (the same
  // mistake in the compiled HTML would carry a position in HTML they never saw).
  const own = { body: source.body, subject: source.meta.subject, preheader: source.meta.preheader };
  const ownProblems: TemplateProblem[] = [];
  for (const [part, text] of Object.entries(own)) {
    try {
      handlebars.precompile(text, COMPILE_OPTIONS);
    } catch (error) {
      const mistake = describeHandlebarsError(error, HELPER_NAMES, text);
      const line = part === 'body' && mistake.line !== null ? source.bodyLine + mistake.line - 1 : null;
      ownProblems.push(problem(part === 'body' ? mistake.message : `${part}: ${mistake.message}`, line));
    }
  }
  const composed = composeMjml(source, parts);
  if (composed.problems.length > 0 || ownProblems.length > 0) return { ok: false, problems: [...ownProblems, ...composed.problems.map((message) => problem(message))] };

  const problems: TemplateProblem[] = [];
  const compiled = await mjml.compile(composed.mjml);
  if (!compiled.ok) {
    for (const detail of compiled.problems) problems.push(problem(`MJML: ${detail.message}`, detail.line === null ? null : composed.fileLineAt(detail.line)));
    return { ok: false, problems };
  }
  const { html } = compiled;
  const texts = { subject: source.meta.subject, preheader: source.meta.preheader, html };
  for (const [part, text] of Object.entries(texts)) {
    if (text.includes('{{{')) problems.push(problem(`Handlebars in ${part}: triple braces {{{…}}} turn HTML escaping off; use {{…}}`));
    try {
      // Precompiling with known helpers only catches a misspelt helper now, not at send time.
      handlebars.precompile(text, COMPILE_OPTIONS);
    } catch (error) {
      // Only a layout or partial can still fail here: the template's own text passed above.
      problems.push(problem(`Handlebars in ${part} (with its layout and partials): ${describeHandlebarsError(error, HELPER_NAMES, text).message}`));
    }
  }
  for (const attribute of unsafeDynamicAttributes(html)) {
    problems.push(problem(`a placeholder in a ${attribute} attribute could inject CSS or script; keep lead data out of ${attribute}`));
  }
  if (problems.length > 0) return { ok: false, problems };

  // No wrapping: lines are wrapped before placeholders are filled, so wrapping here would break them oddly.
  // Headings keep their case: html-to-text would upper-case the placeholders inside them too.
  const plainText = convert(html, {
    wordwrap: false,
    selectors: [{ selector: 'img', format: 'skip' }, ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, options: { uppercase: false } }))],
  });
  return {
    ok: true,
    template: {
      name: source.name,
      version: createHash('sha256').update(JSON.stringify(source.meta)).update(composed.mjml).digest('hex').slice(0, 16),
      meta: source.meta,
      subject: compilePlain(source.meta.subject),
      preheader: compilePlain(source.meta.preheader),
      html: compileText(guardDynamicHrefs(html), false),
      text: compileText(plainText, true),
    },
  };
}

/**
 * Escaping stops markup, not `javascript:` URLs. Only an href with a placeholder can change per
 * lead, so only those are wrapped in the `safeHref` block helper, which checks the filled URL.
 * Checking every href of every rendered email instead would cost more than the fill itself.
 */
export function guardDynamicHrefs(html: string): string {
  return html.replace(URL_ATTRIBUTE, (whole, name: string, quote: string | undefined, quoted: string | undefined, bare: string | undefined) => {
    const value = quoted ?? bare ?? '';
    if (!value.includes('{{')) return whole;
    const mark = quote ?? '"';
    return `${name}=${mark}{{#safeHref}}${value}{{/safeHref}}${mark}`;
  });
}

// href and src in any case, with double, single or no quotes (MJML passes mj-text HTML through as written).
const URL_ATTRIBUTE = /\b(href|src|background)\s*=\s*(?:(["'])([^"']*)\2|([^\s>"']+))/gi;

/** Attributes where a placeholder is never safe: styles and event handlers. */
function unsafeDynamicAttributes(html: string): string[] {
  const found = new Set<string>();
  for (const match of html.matchAll(/\b(style|on[a-z]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/gi)) {
    if ((match[2] ?? match[3] ?? '').includes('{{')) found.add(match[1]?.toLowerCase() ?? 'style');
  }
  return [...found];
}

/** A one-line Handlebars text such as a subject override: its problem, or null when it compiles. */
export function subjectProblem(text: string): string | null {
  if (text.includes('{{{')) return 'triple braces {{{…}}} are not allowed; use {{…}}';
  try {
    handlebars.precompile(text, COMPILE_OPTIONS);
    return null;
  } catch (error) {
    return (error as Error).message.split('\n')[0] ?? 'does not compile';
  }
}

const subjects = new Map<string, HandlebarsTemplateDelegate>();

/** Compiles a subject override once and keeps it (overrides come from a fixed set of sequence files). */
export function compiledSubject(text: string): HandlebarsTemplateDelegate {
  let compiled = subjects.get(text);
  if (!compiled) {
    compiled = compileText(text, true);
    subjects.set(text, compiled);
  }
  return compiled;
}
