import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { compileTemplate, compiledSubject, type CompiledTemplate, type TemplateParts } from './template-compiler.js';
import { cachedMjmlCompiler } from './mjml-cache.js';
import type { MjmlCompiler } from './mjml-worker.js';
import { parseTemplateSource, type TemplateCategory, type TemplateProblem } from './template-source.js';

export interface TemplateContext {
  lead: Record<string, unknown>;
  company: { name: string; postalAddress: string };
  /** `unsubscribe` always; the template's own named links are added by render(). */
  links: { unsubscribe: string } & Record<string, string>;
  sequence?: { id: string; name: string };
  step?: { id: string };
  briefing?: unknown;
}

export interface RenderedEmail {
  template: string;
  templateVersion: string;
  category: TemplateCategory;
  from: string | null;
  subject: string;
  preheader: string;
  html: string;
  text: string;
}

export interface TemplateStore {
  names(): string[];
  has(name: string): boolean;
  get(name: string): CompiledTemplate | undefined;
  /** `overrides` come from a sequence's email step: its own subject (Handlebars) or From. */
  render(name: string, context: TemplateContext, overrides?: { subject?: string; from?: string }): RenderedEmail;
}

/** On failure, `names` still lists every template found, so other files' references to a broken one are not reported again. */
export type LoadResult = { ok: true; store: TemplateStore } | { ok: false; problems: TemplateProblem[]; names: string[] };

const SAMPLE_UNSUBSCRIBE = 'https://baton.invalid/unsubscribe/sample-token';
const SAMPLE_POSTAL_ADDRESS = 'Sample Postal Address 0000';

/**
 * Loads and compiles every template under `dir` (layouts in `layouts/`, partials in `partials/`),
 * and reports every problem in every file at once. With `cacheDir`, compiled MJML is kept there
 * and reused by later starts (mjml-cache.ts).
 */
export async function loadTemplates(dir: string, cacheDir: string | null = null): Promise<LoadResult> {
  const parts: TemplateParts = { layouts: await readMjmlFiles(path.join(dir, 'layouts')), partials: await readMjmlFiles(path.join(dir, 'partials')) };
  const problems: TemplateProblem[] = [];
  const compiled = new Map<string, CompiledTemplate>();
  const mjml = cachedMjmlCompiler(cacheDir);
  let names: string[];
  try {
    names = await compileAll(dir, parts, mjml, compiled, problems);
  } finally {
    await mjml.close();
  }
  if (problems.length > 0) return { ok: false, problems, names };
  return { ok: true, store: createStore(compiled) };
}

/** Compiles what it can; returns the names of all templates found. */
async function compileAll(dir: string, parts: TemplateParts, mjml: MjmlCompiler, compiled: Map<string, CompiledTemplate>, problems: TemplateProblem[]): Promise<string[]> {
  const files = await readMjmlFiles(dir);
  for (const [name, text] of files) {
    const file = path.join(dir, `${name}.mjml`);
    const parsed = parseTemplateSource(name, file, text);
    if (!parsed.ok) {
      problems.push(...parsed.problems);
      continue;
    }
    const result = await compileTemplate(parsed.source, parts, mjml);
    if (!result.ok) {
      problems.push(...result.problems);
      continue;
    }
    problems.push(...checkMarketingRequirements(result.template, file));
    compiled.set(name, result.template);
  }
  return [...files.keys()].sort();
}

function createStore(compiled: Map<string, CompiledTemplate>): TemplateStore {
  return {
    names: () => [...compiled.keys()].sort(),
    has: (name) => compiled.has(name),
    get: (name) => compiled.get(name),
    render(name, context, overrides = {}) {
      const template = compiled.get(name);
      if (!template) throw new Error(`unknown template ${name}`);
      const email = renderTemplate(template, context);
      if (overrides.subject) email.subject = oneLine(compiledSubject(overrides.subject)({ ...context, links: { ...template.meta.links, ...context.links } }));
      if (overrides.from) email.from = overrides.from;
      return email;
    },
  };
}

export function renderTemplate(template: CompiledTemplate, context: TemplateContext): RenderedEmail {
  // One context for every part; the preheader is filled in first (as a placeholder of its own, it is empty).
  const full = { ...context, links: { ...template.meta.links, ...context.links }, preheader: '' };
  const preheader = oneLine(template.preheader(full));
  full.preheader = preheader;
  return {
    template: template.name,
    templateVersion: template.version,
    category: template.meta.category,
    from: template.meta.from,
    // Header values: lead data must not be able to add a line (header injection).
    subject: oneLine(template.subject(full)),
    preheader,
    html: template.html(full),
    text: template.text(full),
  };
}

function oneLine(value: string): string {
  return (/[\r\n]/.test(value) ? value.replace(/[\r\n]+/g, ' ') : value).trim();
}

/**
 * Every template must render for a sample lead. CAN-SPAM and the Gmail/Yahoo bulk-sender rules:
 * a marketing email shows an unsubscribe link and the sender's postal address. Checked on the
 * sample render, so any layout or partial counts.
 */
function checkMarketingRequirements(template: CompiledTemplate, file: string): TemplateProblem[] {
  let sample: RenderedEmail;
  try {
    sample = renderTemplate(template, {
      lead: { firstName: 'Sample', email: 'sample@example.com', traits: {} },
      company: { name: 'Sample Co', postalAddress: SAMPLE_POSTAL_ADDRESS },
      links: { unsubscribe: SAMPLE_UNSUBSCRIBE },
    });
  } catch (error) {
    return [{ file, line: null, message: `rendering a sample email failed: ${(error as Error).message.split('\n')[0]}` }];
  }
  if (template.meta.category !== 'marketing') return [];
  const problems: TemplateProblem[] = [];
  const anchor = new RegExp(`<a[^>]*href="${SAMPLE_UNSUBSCRIBE.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}"[^>]*>([\\s\\S]*?)</a>`, 'i');
  const visibleText = anchor.exec(sample.html)?.[1]?.replace(/<[^>]+>/g, '').trim();
  if (!visibleText) problems.push({ file, line: null, message: 'a marketing template needs a visible unsubscribe link: <a href="{{links.unsubscribe}}">Unsubscribe</a>' });
  if (!sample.html.includes(SAMPLE_POSTAL_ADDRESS)) problems.push({ file, line: null, message: 'a marketing template must show the postal address: {{company.postalAddress}}' });
  return problems;
}

async function readMjmlFiles(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return files;
  }
  for (const entry of entries.filter((name) => name.endsWith('.mjml')).sort()) {
    files.set(entry.slice(0, -'.mjml'.length), await readFile(path.join(dir, entry), 'utf8'));
  }
  return files;
}
