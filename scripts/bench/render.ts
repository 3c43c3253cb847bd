/*
 * Rendering benchmark: Baton's cached render (MJML compiled once per template version, only the
 * Handlebars fill per email) against the naive path measured in the same run: fill the MJML
 * source with Handlebars, then run mjml2html for every email.
 *
 *   npm run bench:render
 */
import { fileURLToPath } from 'node:url';
import mjml2html from 'mjml';
import { handlebars } from '../../src/templates/handlebars-env.js';
import { composeMjml } from '../../src/templates/template-compiler.js';
import { parseTemplateSource } from '../../src/templates/template-source.js';
import { loadTemplates, type TemplateContext } from '../../src/templates/template-store.js';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';

const DIR = fileURLToPath(new URL('../../templates/', import.meta.url));
const NAIVE_EMAILS = Number(process.env.BENCH_NAIVE ?? 200);
const CACHED_EMAILS = Number(process.env.BENCH_CACHED ?? 50_000);
const CACHED_ROUNDS = 5;

function contextFor(i: number): TemplateContext {
  return {
    lead: { firstName: `Lead${i}`, company: `Company ${i}`, email: `lead${i}@example.com`, traits: {} },
    company: { name: 'Acme', postalAddress: '1 Main Street, Springfield' },
    links: { unsubscribe: `https://baton.example.com/u/${i}` },
  };
}

async function readDir(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of (await readdir(dir)).filter((name) => name.endsWith('.mjml')))
    files.set(entry.slice(0, -5), await readFile(path.join(dir, entry), 'utf8'));
  return files;
}

async function main(): Promise<void> {
  const loaded = await loadTemplates(DIR);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const store = loaded.store;
  const names = store.names();

  // Naive: the composed MJML source of each template, filled then compiled per email.
  const parts = { layouts: await readDir(path.join(DIR, 'layouts')), partials: await readDir(path.join(DIR, 'partials')) };
  const sources = await readDir(DIR);
  const naiveTemplates = names.map((name) => {
    const parsed = parseTemplateSource(name, name, sources.get(name) ?? '');
    if (!parsed.ok) throw new Error(name);
    return { meta: parsed.source.meta, fill: handlebars.compile(composeMjml(parsed.source, parts).mjml) };
  });
  // Two baselines: mjml2html as a naive implementation calls it (default options: validation,
  // web fonts), and tuned as Baton's own compile is (no validation per email, no fonts).
  const naive = async (options: Parameters<typeof mjml2html>[1]) => {
    const began = performance.now();
    for (let i = 0; i < NAIVE_EMAILS; i++) {
      const template = naiveTemplates[i % naiveTemplates.length];
      if (!template) continue;
      const context = contextFor(i);
      await mjml2html(template.fill({ ...context, links: { ...template.meta.links, ...context.links } }), options);
    }
    return (performance.now() - began) / NAIVE_EMAILS;
  };
  const defaultMs = await naive({});
  const naiveMs = await naive({ validationLevel: 'skip', fonts: {} });

  // Rounds, and their median: a garbage collection landing in one round moves a single figure a lot.
  let bytes = 0;
  const rounds: number[] = [];
  const perRound = Math.ceil(CACHED_EMAILS / CACHED_ROUNDS);
  for (let round = 0; round < CACHED_ROUNDS; round++) {
    const started = performance.now();
    for (let i = 0; i < perRound; i++) bytes += store.render(names[i % names.length] ?? '', contextFor(i)).html.length;
    rounds.push((performance.now() - started) / perRound);
  }
  rounds.sort((a, b) => a - b);
  const cachedMs = rounds[Math.floor(rounds.length / 2)] ?? 0;

  console.log(`templates:      ${names.length}`);
  console.log(`mjml2html, default options: ${defaultMs.toFixed(3)} ms/email (fill + compile, ${NAIVE_EMAILS} emails)`);
  console.log(`naive render:   ${naiveMs.toFixed(3)} ms/email (fill + mjml2html without validation or fonts, ${NAIVE_EMAILS} emails)`);
  console.log(
    `cached render:  ${cachedMs.toFixed(4)} ms/email, median of ${CACHED_ROUNDS} rounds (${rounds.map((ms) => ms.toFixed(4)).join(', ')}) (fill only, HTML + text + subject, ${perRound * CACHED_ROUNDS} emails, ${(bytes / (perRound * CACHED_ROUNDS) / 1024).toFixed(1)} KB HTML each)`,
  );
  console.log(
    `ratio:          ${(naiveMs / cachedMs).toFixed(0)}x faster than the tuned baseline; ${(defaultMs / cachedMs).toFixed(0)}x faster than mjml2html with default options`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
