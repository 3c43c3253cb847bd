import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BRIEFING_TEMPLATE } from '../handoff/handoff-notifier.js';
import { parseSalesTeam, type SalesTeam } from '../handoff/sales-team.js';
import type { Config } from '../platform/config.js';
import { parseScoringConfig, type ScoringConfig } from '../scoring/scoring-config.js';
import type { Sequence } from '../sequences/sequence.js';
import { loadSequences } from '../sequences/sequence-loader.js';
import type { TemplateCatalogue } from '../sequences/sequence-checks.js';
import { loadTemplates, type TemplateStore } from '../templates/template-store.js';
import { loadForms } from '../forms/form-file.js';
import type { FormDefinition } from '../forms/form.js';
import { parseWebhooksFile, type WebhookEndpoint, type WebhooksFileOptions } from '../webhooks/webhooks-file.js';

/*
 * The files marketers and sales keep in git: templates, sequences, the scoring file and the sales
 * team file. Loaded and checked together, every problem listed as `file:line path: message`;
 * Baton refuses to start on any, and `baton validate` prints them. One code path for both.
 */

export interface ContentPaths {
  templatesDir: string;
  sequencesDir: string;
  /** `explicit`: named by the user, so it must exist; otherwise a missing file means "none". */
  scoringFile: { path: string; explicit: boolean };
  salesTeamFile: { path: string; explicit: boolean };
  /** webhooks.yaml and what resolves its secrets; absent: no lifecycle webhooks. */
  webhooks?: { file: { path: string; explicit: boolean } } & WebhooksFileOptions;
  /** forms/*.yaml; absent: no forms. */
  formsDir?: { path: string; explicit: boolean };
}

export interface LoadedScoring {
  config: ScoringConfig;
  /** Null when the scoring file has no lifecycle section: scores only, no handoff. */
  team: SalesTeam | null;
}

export interface Content {
  templates: TemplateStore;
  sequences: Sequence[];
  scoring: LoadedScoring | null;
  /** Endpoints of lifecycle webhooks (webhooks.yaml); empty without the file. */
  webhooks: WebhookEndpoint[];
  /** Public forms (forms/*.yaml); empty without the directory. */
  forms: FormDefinition[];
}

export type LoadContentResult = { ok: true; content: Content } | { ok: false; problems: string[] };

export function contentPaths(config: Config): ContentPaths {
  return {
    templatesDir: config.templatesDir,
    sequencesDir: config.sequencesDir,
    scoringFile: config.scoringFile,
    salesTeamFile: config.salesTeamFile,
    webhooks: { file: config.webhooksFile, secrets: config.webhooks.secrets, allowInsecure: config.nodeEnv !== 'production' },
    formsDir: config.formsDir,
  };
}

/** A file as a person finds it: relative to where they are, unless it lies outside. */
function shown(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative && !relative.startsWith('..') ? relative : file;
}

const where = (file: string, line: number | null, at: string) => `${shown(file)}${line ? `:${line}` : ''} ${at ? `${at}: ` : ''}`;

/**
 * `cacheDir`: where compiled MJML is kept between starts (the server's data directory), or none.
 * Every file is checked even when another is broken, so one run lists every problem: a broken
 * template still counts as existing for the sequences that name it, and a sequence file that
 * does not load is only left out of the scoring file's reference checks.
 */
export async function loadContent(paths: ContentPaths, cacheDir: string | null = null): Promise<LoadContentResult> {
  const problems: string[] = [];
  const templates = await loadTemplates(paths.templatesDir, cacheDir);
  if (!templates.ok) problems.push(...templates.problems.map((problem) => `${where(problem.file, problem.line, '')}${problem.message}`));
  const found = templates.ok ? templates.store : namesOnly(templates.names);
  const catalogue: TemplateCatalogue = { has: (name) => found.has(name), names: () => found.names(), dir: shown(paths.templatesDir) };
  const sequences = await loadSequences(paths.sequencesDir, catalogue);
  if (!sequences.ok) problems.push(...sequences.problems.map((problem) => `${where(problem.file, problem.line, problem.path)}${problem.message}`));
  const scoring = await loadScoring(paths, catalogue, sequences.ok ? sequences.sequences.map((sequence) => sequence.id) : null);
  if (!scoring.ok) problems.push(...scoring.problems);
  const webhooks = await loadWebhooks(paths.webhooks);
  if (!webhooks.ok) problems.push(...webhooks.problems);
  const forms = paths.formsDir
    ? await loadForms(paths.formsDir.path, sequences.ok ? sequences.sequences.map((sequence) => sequence.id) : null, paths.formsDir.explicit)
    : { ok: true as const, forms: [] };
  if (!forms.ok) problems.push(...forms.problems.map((problem) => `${where(problem.file, problem.line, problem.path)}${problem.message}`));
  if (!templates.ok || !sequences.ok || !scoring.ok || !webhooks.ok || !forms.ok) return { ok: false, problems };
  return {
    ok: true,
    content: { templates: templates.store, sequences: sequences.sequences, scoring: scoring.scoring, webhooks: webhooks.endpoints, forms: forms.forms },
  };
}

/** The templates that exist, broken or not: enough for other files' reference checks. */
function namesOnly(names: readonly string[]): TemplateCatalogue {
  return { has: (name) => names.includes(name), names: () => [...names] };
}

/** The scoring file and, when it hands leads to sales, the sales team file; every problem at once. */
async function loadScoring(
  paths: ContentPaths,
  templates: TemplateCatalogue,
  sequenceIds: string[] | null,
): Promise<{ ok: true; scoring: LoadedScoring | null } | { ok: false; problems: string[] }> {
  const text = await readOptional(paths.scoringFile.path);
  if (text === null) {
    if (paths.scoringFile.explicit) return { ok: false, problems: [`${where(paths.scoringFile.path, null, '')}the scoring file does not exist`] };
    return { ok: true, scoring: null };
  }
  const parsed = parseScoringConfig(text);
  if (!parsed.ok) {
    // Whether a team is needed is unknown, but a team file that is there gets checked too.
    const problems = parsed.problems.map((problem) => `${where(paths.scoringFile.path, problem.line, problem.path)}${problem.message}`);
    const teamText = await readOptional(paths.salesTeamFile.path);
    const team = teamText === null ? null : parseSalesTeam(teamText);
    if (team && !team.ok) problems.push(...team.problems.map((problem) => `${where(paths.salesTeamFile.path, problem.line, problem.path)}${problem.message}`));
    return { ok: false, problems };
  }
  const lifecycle = parsed.config.lifecycle;
  if (!lifecycle) return { ok: true, scoring: { config: parsed.config, team: null } };
  const problems: string[] = [];
  if (lifecycle.recycleSequence && sequenceIds && !sequenceIds.includes(lifecycle.recycleSequence)) {
    problems.push(
      `${where(paths.scoringFile.path, null, 'lifecycle.recycle_sequence')}"${lifecycle.recycleSequence}" is not a loaded sequence; expected one of: ${sequenceIds.join(', ')}`,
    );
  }
  if (!templates.has(BRIEFING_TEMPLATE))
    problems.push(`${where(paths.templatesDir, null, '')}the ${BRIEFING_TEMPLATE} template (the rep's email) is missing; handoffs need it`);
  const teamText = await readOptional(paths.salesTeamFile.path);
  if (teamText === null) {
    problems.push(
      `${where(paths.salesTeamFile.path, null, '')}the scoring file hands leads to sales (lifecycle.mql), so a sales team file is needed (BATON_SALES_TEAM_FILE)`,
    );
    return { ok: false, problems };
  }
  const team = parseSalesTeam(teamText);
  if (!team.ok) problems.push(...team.problems.map((problem) => `${where(paths.salesTeamFile.path, problem.line, problem.path)}${problem.message}`));
  if (problems.length > 0 || !team.ok) return { ok: false, problems };
  return { ok: true, scoring: { config: parsed.config, team: team.team } };
}

async function loadWebhooks(options: ContentPaths['webhooks']): Promise<{ ok: true; endpoints: WebhookEndpoint[] } | { ok: false; problems: string[] }> {
  if (!options) return { ok: true, endpoints: [] };
  const text = await readOptional(options.file.path);
  if (text === null)
    return options.file.explicit
      ? { ok: false, problems: [`${where(options.file.path, null, '')}the webhooks file does not exist`] }
      : { ok: true, endpoints: [] };
  const parsed = parseWebhooksFile(text, options);
  if (!parsed.ok) return { ok: false, problems: parsed.problems.map((problem) => `${where(options.file.path, problem.line, problem.path)}${problem.message}`) };
  return { ok: true, endpoints: parsed.endpoints };
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    // Not `instanceof Error`: errors from node:fs come from another realm under Jest's VM modules.
    if (typeof error === 'object' && error !== null && 'code' in error && error.code === 'ENOENT') return null;
    throw error;
  }
}
