import { parseDocument, LineCounter } from 'yaml';
import Joi from 'joi';
import { yamlProblems, yamlValue } from '../platform/yaml-value.js';

/*
 * A template file is YAML front matter between `---` lines, then an MJML body:
 *
 *   ---
 *   subject: "{{lead.firstName}}, your guide"
 *   preheader: Five minutes to a faster pipeline
 *   layout: base
 *   links: { guide: "https://example.com/guide" }
 *   ---
 *   <mj-section>…</mj-section>
 */

export type TemplateCategory = 'marketing' | 'transactional';

export interface TemplateMeta {
  subject: string;
  preheader: string;
  from: string | null;
  category: TemplateCategory;
  layout: string | null;
  links: Record<string, string>;
}

export interface TemplateSource {
  name: string;
  file: string;
  meta: TemplateMeta;
  body: string;
  /** 1-based line of the body's first line in the file, so body errors point at the file. */
  bodyLine: number;
}

export interface TemplateProblem {
  file: string;
  line: number | null;
  message: string;
}

// Any URL a browser follows (WHATWG URL): IDN hosts and unicode paths included, which Joi's
// RFC 3986 check refuses. Kept as written: tracked links redirect to exactly this text.
const httpUrl = Joi.string().max(2000).custom((value: string, helpers) => (/^https?:\/\/[^\s]+$/i.test(value) && URL.canParse(value) ? value : helpers.error('link.invalid')))
  .messages({ 'link.invalid': '{{#label}} must be an http(s) URL without spaces, e.g. https://example.com/pricing?utm_source=newsletter' });

const metaSchema = Joi.object<TemplateMeta>({
  subject: Joi.string().min(1).max(300).required(),
  preheader: Joi.string().max(300).allow('').default(''),
  from: Joi.string().max(300).allow(null).default(null),
  category: Joi.string().valid('marketing', 'transactional').default('marketing'),
  layout: Joi.string().pattern(/^[\w-]+$/).allow(null).default(null),
  links: Joi.object().pattern(Joi.string().pattern(/^[A-Za-z_][\w]*$/), httpUrl).default({}),
});

const FRONT_MATTER = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/;

export type ParsedTemplate = { ok: true; source: TemplateSource } | { ok: false; problems: TemplateProblem[] };

export function parseTemplateSource(name: string, file: string, text: string): ParsedTemplate {
  const match = FRONT_MATTER.exec(text);
  if (!match) return { ok: false, problems: [{ file, line: 1, message: 'a template starts with YAML front matter between --- lines (at least a subject)' }] };
  const yamlText = match[1] ?? '';
  const lineCounter = new LineCounter();
  const document = parseDocument(yamlText, { lineCounter, prettyErrors: true });
  if (document.errors.length > 0) {
    return { ok: false, problems: yamlProblems(document.errors, yamlText).map((problem) => ({ file, line: 1 + (problem.line ?? 1), message: `front matter: ${problem.message}` })) };
  }
  const plain = yamlValue(document, lineCounter);
  if (!plain.ok) return { ok: false, problems: [{ file, line: 1 + (plain.line ?? 1), message: `front matter: ${plain.message}` }] };
  // Not destructured: Joi types a failed result's value `any`; narrowed on `error`, it is typed.
  const validated = metaSchema.validate(plain.value, { abortEarly: false, errors: { wrap: { label: false } } });
  if (validated.error) {
    return {
      ok: false,
      problems: validated.error.details.map((detail) => {
        const node = document.getIn(detail.path, true) as { range?: [number, number] } | undefined;
        const line = node?.range ? 1 + lineCounter.linePos(node.range[0]).line : 2;
        return { file, line, message: `front matter: ${detail.message}` };
      }),
    };
  }
  const bodyLine = match[0].split('\n').length;
  return { ok: true, source: { name, file, meta: validated.value, body: text.slice(match[0].length), bodyLine } };
}
