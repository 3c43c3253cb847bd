import { subjectProblem } from '../templates/template-compiler.js';
import type { Condition, Sequence, Step } from './sequence.js';

/*
 * Semantic checks on a structurally valid sequence: references, reachability, loops that would
 * spin without waiting, and templates. Pure, so each rule is unit-tested with small sequences.
 */

export interface TemplateCatalogue {
  has(name: string): boolean;
  names(): string[];
  /** Where the templates were looked for, as the user would write it (named in messages). */
  dir?: string;
}

export interface CheckProblem {
  line: number | null;
  path: string;
  message: string;
}

/** Steps that take time: a loop through at least one of them cannot spin. */
const WAITING_KINDS = new Set<Step['kind']>(['wait', 'goal']);

/** Where a step can go next. A step without `next` falls through to the following step. */
export function successors(sequence: Sequence, index: number): string[] {
  const step = sequence.steps[index];
  if (!step) return [];
  const following = sequence.steps[index + 1]?.id;
  switch (step.kind) {
    case 'end':
      return [];
    case 'branch':
      return [...step.branch.map((option) => option.then), step.else];
    case 'split':
      return step.split.arms.map((arm) => arm.next);
    default:
      return step.next ? [step.next] : following ? [following] : [];
  }
}

/** Finds the line of a path in the file; without it, a problem points at its step's first line. */
export type LineFinder = (path: Array<string | number>) => number | null;

export function checkSequence(sequence: Sequence, templates: TemplateCatalogue, lineOf: LineFinder = () => null): CheckProblem[] {
  const found = checkSequenceSteps(sequence, templates);
  return found.map((problem) => ({ ...problem, line: lineOf(pathSegments(problem.path)) ?? problem.line }));
}

/** "steps[2].branch[0].then" → ['steps', 2, 'branch', 0, 'then'] */
function pathSegments(path: string): Array<string | number> {
  return [...path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)].map((match) => (match[2] !== undefined ? Number(match[2]) : (match[1] ?? '')));
}

function checkSequenceSteps(sequence: Sequence, templates: TemplateCatalogue): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const at = (index: number, suffix = '') => `steps[${index}]${suffix}`;
  const indexById = new Map<string, number>();
  sequence.steps.forEach((step, index) => {
    const previous = indexById.get(step.id);
    if (previous !== undefined) problems.push({ line: step.line, path: at(index, '.id'), message: `step id "${step.id}" is already used by steps[${previous}]` });
    else indexById.set(step.id, index);
  });
  const known = [...indexById.keys()];
  const emailSteps = new Set(sequence.steps.filter((step) => step.kind === 'email').map((step) => step.id));
  const reference = (id: string, index: number, suffix: string) => {
    if (!indexById.has(id)) problems.push({ line: sequence.steps[index]?.line ?? null, path: at(index, suffix), message: `"${id}" is not a step of this sequence (steps: ${known.join(', ')})` });
  };

  sequence.steps.forEach((step, index) => {
    if (step.next) reference(step.next, index, '.next');
    if (step.kind === 'end' && step.next) problems.push({ line: step.line, path: at(index, '.next'), message: 'an end step has no next step' });
    if (step.kind === 'branch') {
      if (step.next) problems.push({ line: step.line, path: at(index, '.next'), message: 'a branch goes where its options say; use then and else instead of next' });
      step.branch.forEach((option, optionIndex) => {
        reference(option.then, index, `.branch[${optionIndex}].then`);
        for (const engaged of engagementReferences(option.if)) {
          if (!emailSteps.has(engaged)) {
            problems.push({ line: step.line, path: at(index, `.branch[${optionIndex}].if`), message: `"${engaged}" is not an email step of this sequence (email steps: ${[...emailSteps].join(', ') || 'none'})` });
          }
        }
      });
      reference(step.else, index, '.else');
    }
    if (step.kind === 'split') {
      if (step.next) problems.push({ line: step.line, path: at(index, '.next'), message: 'a split goes where its arms say; give each arm a next instead' });
      const seenArms = new Map<string, number>();
      step.split.arms.forEach((arm, armIndex) => {
        const earlier = seenArms.get(arm.id);
        if (earlier !== undefined) problems.push({ line: step.line, path: at(index, `.split.arms[${armIndex}].id`), message: `arm id "${arm.id}" is already used by arms[${earlier}]` });
        else seenArms.set(arm.id, armIndex);
        reference(arm.next, index, `.split.arms[${armIndex}].next`);
      });
    }
    if (step.kind === 'email' && !templates.has(step.email.template)) {
      problems.push({ line: step.line, path: at(index, '.email'), message: missingTemplate(step.email.template, templates) });
    }
    const subjectError = step.kind === 'email' && step.email.subject !== undefined ? subjectProblem(step.email.subject) : null;
    if (subjectError) problems.push({ line: step.line, path: at(index, '.email.subject'), message: `the subject does not compile: ${subjectError}` });
  });
  sequence.entry.conditions.forEach((condition, index) => {
    if (engagementReferences(condition).length > 0) problems.push({ line: null, path: `entry.conditions[${index}]`, message: 'entry conditions cannot test opens or clicks: the lead has no emails from this sequence yet' });
  });
  // The graph checks follow references; with a broken one they would report noise.
  const brokenReferences = problems.some((problem) => problem.message.includes('is not a step of this sequence') || problem.message.includes('is already used by steps'));
  if (!brokenReferences) problems.push(...unreachableSteps(sequence, indexById), ...loopsWithoutWait(sequence, indexById), ...engagementBeforeSend(sequence, indexById));
  if (sequence.sendWindow) {
    const [start = '', end = ''] = sequence.sendWindow.hours.split('-');
    if (start >= end) problems.push({ line: null, path: 'send_window.hours', message: `"${sequence.sendWindow.hours}" ends before it starts; a window is HH:MM-HH:MM within one day (windows across midnight are not supported)` });
  }
  return problems;
}

function engagementReferences(condition: Condition): string[] {
  if ('all' in condition) return condition.all.flatMap(engagementReferences);
  if ('any' in condition) return condition.any.flatMap(engagementReferences);
  if ('not' in condition) return engagementReferences(condition.not);
  if ('opened' in condition) return [condition.opened];
  if ('clicked' in condition) return [condition.clicked];
  return [];
}

/** Steps reachable from `from` by following next, then and else (not counting `from` itself unless a loop returns). */
function reachableFrom(sequence: Sequence, indexById: Map<string, number>, from: number): Set<number> {
  const reached = new Set<number>();
  const queue = [from];
  while (queue.length > 0) {
    const index = queue.shift() ?? 0;
    for (const id of successors(sequence, index)) {
      const next = indexById.get(id);
      if (next !== undefined && !reached.has(next)) {
        reached.add(next);
        queue.push(next);
      }
    }
  }
  return reached;
}

/** A branch on opens or clicks of an email that can never have been sent before it would always take else. */
function engagementBeforeSend(sequence: Sequence, indexById: Map<string, number>): CheckProblem[] {
  return sequence.steps.flatMap((step, index) => {
    if (step.kind !== 'branch') return [];
    return step.branch.flatMap((option, optionIndex) => engagementReferences(option.if).flatMap((emailId) => {
      const emailIndex = indexById.get(emailId);
      if (emailIndex === undefined || reachableFrom(sequence, indexById, emailIndex).has(index)) return [];
      return [{ line: step.line, path: `steps[${index}].branch[${optionIndex}].if`, message: `email step "${emailId}" never comes before this branch, so the condition could never hold` }];
    }));
  });
}

function unreachableSteps(sequence: Sequence, indexById: Map<string, number>): CheckProblem[] {
  const reached = reachableFrom(sequence, indexById, 0).add(0);
  return sequence.steps.flatMap((step, index) =>
    reached.has(index) ? [] : [{ line: step.line, path: `steps[${index}]`, message: `step "${step.id}" can never be reached from the first step` }],
  );
}

/** A cycle made only of steps that take no time would send emails or call webhooks in a tight loop. */
function loopsWithoutWait(sequence: Sequence, indexById: Map<string, number>): CheckProblem[] {
  const problems: CheckProblem[] = [];
  const state = new Map<number, 'visiting' | 'done'>();
  const stack: number[] = [];
  const visit = (index: number) => {
    state.set(index, 'visiting');
    stack.push(index);
    for (const id of successors(sequence, index)) {
      const next = indexById.get(id);
      if (next === undefined || WAITING_KINDS.has(sequence.steps[next]?.kind ?? 'end')) continue;
      if (state.get(next) === 'visiting') {
        const cycle = stack.slice(stack.indexOf(next)).map((i) => sequence.steps[i]?.id ?? '?');
        const first = sequence.steps[next];
        problems.push({ line: first?.line ?? null, path: `steps[${next}]`, message: `steps ${[...cycle, cycle[0]].join(' → ')} loop without a wait; add a wait step to the loop` });
      } else if (!state.has(next)) {
        visit(next);
      }
    }
    stack.pop();
    state.set(index, 'done');
  };
  sequence.steps.forEach((step, index) => {
    if (!state.has(index) && !WAITING_KINDS.has(step.kind)) visit(index);
  });
  return problems;
}

function missingTemplate(name: string, templates: TemplateCatalogue): string {
  const names = templates.names();
  const where = templates.dir ? ` in ${templates.dir}` : '';
  return names.length === 0 ? `template "${name}" does not exist: there are no templates${where}` : `template "${name}" does not exist (templates${where}: ${names.join(', ')})`;
}
