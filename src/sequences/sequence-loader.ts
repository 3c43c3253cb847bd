import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type Joi from 'joi';
import type { Condition, ExperimentMetric, Sequence, SplitArm, Step, StepAction } from './sequence.js';
import { yamlProblems, yamlValue } from '../platform/yaml-value.js';
import { sequenceFileSchema, STEP_ACTIONS } from './sequence.schemas.js';
import { checkSequence, type TemplateCatalogue } from './sequence-checks.js';
import { formatPath } from '../platform/config-file-schemas.js';

/*
 * Reads sequence files: YAML parsed with positions, validated structurally (Joi), then
 * semantically (references, reachability, loops, templates). Every problem in every file is
 * reported at once as file:line path: message.
 */

export interface SequenceProblem {
  file: string;
  line: number | null;
  path: string;
  message: string;
}

export type LoadSequencesResult = { ok: true; sequences: Sequence[] } | { ok: false; problems: SequenceProblem[] };

/** Loads every *.yaml / *.yml file in dir (files starting with _ are not sequences). */
export async function loadSequences(dir: string, templates: TemplateCatalogue): Promise<LoadSequencesResult> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((file) => /\.ya?ml$/.test(file) && !file.startsWith('_')).sort();
  } catch {
    return { ok: true, sequences: [] };
  }
  const problems: SequenceProblem[] = [];
  const sequences: Sequence[] = [];
  for (const file of files) {
    const fullPath = path.join(dir, file);
    const result = parseSequence(await readFile(fullPath, 'utf8'), fullPath, templates);
    if (result.ok) sequences.push(result.sequence);
    else problems.push(...result.problems);
  }
  const seen = new Map<string, string>();
  for (const sequence of sequences) {
    const other = seen.get(sequence.id);
    if (other) problems.push({ file: sequence.file, line: null, path: 'id', message: `id "${sequence.id}" is also used by ${other}` });
    seen.set(sequence.id, sequence.file);
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, sequences };
}

export type ParseSequenceResult = { ok: true; sequence: Sequence } | { ok: false; problems: SequenceProblem[] };

export function parseSequence(text: string, file: string, templates: TemplateCatalogue): ParseSequenceResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    return { ok: false, problems: yamlProblems(document.errors, text).map((problem) => ({ file, ...problem, path: '' })) };
  }
  const lineOf = (segments: Array<string | number>) => nodeLine(document, lineCounter, segments);
  const plain = yamlValue(document, lineCounter);
  if (!plain.ok) return { ok: false, problems: [{ file, line: plain.line, path: '', message: plain.message }] };
  const result = sequenceFileSchema.validate(plain.value, { abortEarly: false, errors: { wrap: { label: false } } });
  if (result.error) {
    const structural = joiProblems(result.error, file, lineOf);
    return { ok: false, problems: [...structural, ...referenceProblemsBeside(result.value, structural, file, templates, lineOf)] };
  }
  // The schema above is what makes this shape true.
  const value = result.value as RawSequence;

  const sequence = toSequence(value, file, createHash('sha256').update(text).digest('hex').slice(0, 16), lineOf);
  const semantic = checkSequence(sequence, templates, lineOf);
  if (semantic.length > 0) return { ok: false, problems: semantic.map((problem) => ({ file, ...problem })) };
  return { ok: true, sequence };
}

/*
 * A file with a structural mistake (a wrong type, a missing key) is still checked for its
 * references (templates, step targets), so the marketer sees every problem in one run rather than
 * the references after fixing the structure. Problems on a path the structural ones already
 * name, and whole-file ones, are left out: they would be echoes.
 */
function referenceProblemsBeside(value: unknown, structural: SequenceProblem[], file: string, templates: TemplateCatalogue, lineOf: (segments: Array<string | number>) => number | null): SequenceProblem[] {
  try {
    const sequence = toSequence(value as RawSequence, file, 'unchecked', lineOf);
    const broken = structural.map((problem) => problem.path);
    return checkSequence(sequence, templates, lineOf)
      .filter((problem) => problem.path !== '' && !broken.some((path) => overlaps(path, problem.path)))
      .map((problem) => ({ file, ...problem }));
  } catch {
    // Too broken to walk: the structural problems say enough.
    return [];
  }
}

function overlaps(a: string, b: string): boolean {
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return a === '' || within(a, b) || within(b, a);
}

function joiProblems(error: Joi.ValidationError, file: string, lineOf: (segments: Array<string | number>) => number | null): SequenceProblem[] {
  return error.details.map((detail) => {
    const where = detail.path.length > 0 ? formatPath(detail.path) : '';
    // Joi words messages with the path as label; strip it so the path is said once.
    const message = detail.message.startsWith(`${where} `) ? detail.message.slice(where.length + 1) : detail.message;
    return { file, line: lineOf(detail.path) ?? lineOf(detail.path.slice(0, -1)), path: where, message };
  });
}

function nodeLine(document: Document, lineCounter: LineCounter, segments: Array<string | number>): number | null {
  let node: unknown = document.contents;
  for (const segment of segments) {
    if (isMap(node)) {
      const pair = node.items.find((item) => (item.key as { value?: unknown } | null)?.value === segment);
      if (!pair) return null;
      node = pair.value ?? pair.key;
      if (pair.value === null) node = pair.key;
    } else if (isSeq(node) && typeof segment === 'number') {
      node = node.items[segment];
    } else {
      return null;
    }
  }
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? lineCounter.linePos(range[0]).line : null;
}

type RawStep = Record<string, unknown> & { id: string; next?: string };
interface RawSequence {
  id: string; name: string; version: number; description: string; status: 'active' | 'paused'; priority: number; topic?: string;
  entry: Sequence['entry']; goals: Sequence['goals']; holdout?: string;
  send_window?: { days: Sequence['sendWindow'] extends infer W ? W extends { days: infer D } ? D : never : never; hours: string; timezone: string };
  steps: RawStep[];
  utm?: false | { source: string; medium: string };
}

function toSequence(raw: RawSequence, file: string, hash: string, lineOf: (segments: Array<string | number>) => number | null): Sequence {
  return {
    id: raw.id,
    name: raw.name,
    version: raw.version,
    description: raw.description,
    status: raw.status,
    priority: raw.priority,
    ...(raw.topic ? { topic: raw.topic } : {}),
    entry: raw.entry,
    goals: raw.goals,
    sendWindow: raw.send_window ? { days: raw.send_window.days, hours: raw.send_window.hours, timezone: raw.send_window.timezone } : null,
    holdout: raw.holdout ? Number(raw.holdout.slice(0, -1)) / 100 : 0,
    hash,
    utm: raw.utm || null,
    steps: raw.steps.map((step, index): Step => ({ ...toAction(step), id: step.id, next: step.next, line: lineOf(['steps', index]) ?? 0 })),
    file,
  };
}

function toAction(step: RawStep): StepAction {
  const kind = STEP_ACTIONS.find((action) => step[action] !== undefined);
  switch (kind) {
    case 'wait':
      return { kind, wait: step.wait as StepAction & { kind: 'wait' } extends { wait: infer W } ? W : never };
    case 'email': {
      const email = step.email;
      return { kind, email: typeof email === 'string' ? { template: email } : (email as { template: string; subject?: string; from?: string }) };
    }
    case 'branch':
      return { kind, branch: step.branch as Array<{ if: Condition; then: string }>, else: String(step.else) };
    case 'goal':
      return { kind, goal: step.goal as { event: string; where?: Record<string, unknown>; within: string } };
    case 'update_lead':
      return { kind, update_lead: step.update_lead as { set?: Record<string, unknown>; add_tags?: string[]; remove_tags?: string[] } };
    case 'webhook':
      return { kind, webhook: step.webhook as { url: string; secret?: string } };
    case 'split': {
      const split = step.split as { arms: SplitArm[]; winner?: { metric: ExperimentMetric; after: number; min_probability: number } };
      const winner = split.winner ? { metric: split.winner.metric, after: split.winner.after, minProbability: split.winner.min_probability } : undefined;
      return { kind, split: { arms: split.arms.map((arm) => ({ id: arm.id, weight: arm.weight, next: arm.next })), ...(winner ? { winner } : {}) } };
    }
    case 'handoff': {
      const reason = typeof step.handoff === 'object' && step.handoff !== null ? (step.handoff as { reason?: string }).reason : undefined;
      return { kind, handoff: reason ? { reason } : {} };
    }
    case 'end':
    case undefined:
      return { kind: 'end' };
  }
}
