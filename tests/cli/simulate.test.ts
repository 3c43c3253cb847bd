import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { contentPaths, loadContent, type Content } from '../../src/content/content-loader.js';
import { loadConfig } from '../../src/platform/config.js';
import { armForLead } from '../../src/experiments/assignment.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';
import { forcedArmProblems, parsePersona } from '../../src/simulate/persona.js';
import { formatTimeline, simulate } from '../../src/simulate/simulate.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { endStartedProcesses, runCommand } from '../helpers/process-group.js';

/*
 * Golden files: the timeline `baton simulate` prints for each example sequence and persona (the
 * fixture copies in tests/fixtures/content, so a marketer's edits to the checkout's own do not count). A
 * change to a sequence, a template subject, the scoring file or the engine's step rules shows up
 * here as a diff to review. After an intended change: UPDATE_GOLDEN=1 npm test -- simulate.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GOLDEN = path.join(ROOT, 'tests/golden/simulate');
// Scoring and sales team files are found beside the sequences directory, as in a checkout.
const CONTENT_ENV = { BATON_TEMPLATES_DIR: FIXTURE_CONTENT.templates, BATON_SEQUENCES_DIR: FIXTURE_CONTENT.sequences };
const config = loadConfig(CONTENT_ENV);
let content: Content;

beforeAll(async () => {
  const loaded = await loadContent(contentPaths(config));
  if (!loaded.ok) throw new Error(loaded.problems.join('\n'));
  content = loaded.content;
});

async function timeline(sequenceId: string, personaFile: string): Promise<string> {
  const parsed = parsePersona(await readFile(path.join(FIXTURE_CONTENT.personas, personaFile), 'utf8'));
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const sequence = content.sequences.find((candidate) => candidate.id === sequenceId);
  if (!sequence) throw new Error(`no sequence ${sequenceId}`);
  return formatTimeline(
    simulate(parsed.persona, {
      sequence,
      subjectOf: (step, lead) =>
        content.templates.render(
          step.email.template,
          { lead: { ...lead }, company: config.company, links: { unsubscribe: 'https://baton.invalid/u/x' } },
          { subject: step.email.subject },
        ).subject,
      isMarketing: (template) => content.templates.get(template)?.meta.category !== 'transactional',
      scoring: content.scoring?.config ?? null,
      team: content.scoring?.team ?? null,
      frequencyCap: null,
    }),
  );
}

describe('baton simulate timelines', () => {
  it.each([
    ['b2b-nurture', 'engaged-vp.yaml'],
    ['b2b-nurture', 'quiet-reader.yaml'],
    ['re-engagement', 'dormant-returns.yaml'],
  ])('%s with %s matches its golden file', async (sequenceId, personaFile) => {
    const actual = `${await timeline(sequenceId, personaFile)}\n`;
    const golden = path.join(GOLDEN, `${sequenceId}--${personaFile.replace(/\.yaml$/, '')}.txt`);
    if (process.env.UPDATE_GOLDEN === '1') {
      await mkdir(GOLDEN, { recursive: true });
      await writeFile(golden, actual);
    }
    expect(actual).toBe(await readFile(golden, 'utf8'));
  });

  it('is deterministic: the same inputs give the same timeline', async () => {
    expect(await timeline('b2b-nurture', 'engaged-vp.yaml')).toBe(await timeline('b2b-nurture', 'engaged-vp.yaml'));
  });

  it('ends the nurture as converted when the VP asks for a demo, and hands them to the rep whose territory matches', async () => {
    const lines = (await timeline('b2b-nurture', 'engaged-vp.yaml')).split('\n');
    expect(lines.some((line) => / branch +clicked-leaks → case-study$/.test(line))).toBe(true);
    expect(lines.some((line) => / end +converted: goal form_submit$/.test(line))).toBe(true);
    expect(lines.some((line) => / stage +stage mql \(asked for sales: Demo request\)$/.test(line))).toBe(true);
    expect(lines.at(-2)).toMatch(/handoff +handed to Sam Ortiz <sam@example.com> \(territory\)$/);
    expect(lines.at(-1)).toBe('outcome: converted: goal form_submit; handed off to sam');
  });
});

describe('baton simulate with splits, holdouts and handoff steps', () => {
  const EXPERIMENT = `id: experiment
name: Experiment
version: 1
holdout: 10%
entry: { trigger: { type: manual } }
steps:
  - id: subject-test
    split:
      arms:
        - { id: short, weight: 50, next: email-short }
        - { id: long, weight: 50, next: email-long }
  - id: email-short
    email: welcome
    next: to-sales
  - id: email-long
    email: case-study
  - id: to-sales
    handoff: { reason: Took the long track }
`;
  const PERSONA = 'lead: { email: zoe@example.fr, firstName: Zoë, country: FR }\nuntil: 2d\n';

  function run(personaText: string): string[] {
    const parsedSequence = parseSequence(EXPERIMENT, 'experiment.yaml', content.templates);
    if (!parsedSequence.ok) throw new Error(JSON.stringify(parsedSequence.problems));
    const persona = parsePersona(personaText);
    if (!persona.ok) throw new Error(JSON.stringify(persona.problems));
    return formatTimeline(
      simulate(persona.persona, {
        sequence: parsedSequence.sequence,
        subjectOf: (step) => step.email.template,
        isMarketing: () => true,
        scoring: content.scoring?.config ?? null,
        team: content.scoring?.team ?? null,
        frequencyCap: null,
      }),
    ).split('\n');
  }

  it('shows the arm the hash picks, or the one the persona forces, and the handoff step with its reason', () => {
    const hashed = armForLead('zoe@example.fr', 'experiment', 'subject-test', [
      { id: 'short', weight: 50 },
      { id: 'long', weight: 50 },
    ]);
    const lines = run(`${PERSONA}holdout: false\n`);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(` split +subject-test → arm ${hashed} 50% → email-${hashed}$`)));
    const forced = run(`${PERSONA}holdout: false\narms: { subject-test: long }\n`);
    expect(forced).toContainEqual(expect.stringMatching(/ split +subject-test → arm long 50% \(forced by the persona\) → email-long$/));
    expect(forced).toContainEqual(expect.stringMatching(/ email +email-long: "case-study" \(case-study\)$/));
    expect(forced).toContainEqual(expect.stringMatching(/ stage +stage mql \(handoff step to-sales \(Took the long track\)\)$/));
    expect(forced.at(-1)).toMatch(/^outcome: handed off to /);
  });

  it('names a forced arm the sequence lacks, with the choices', () => {
    const parsedSequence = parseSequence(EXPERIMENT, 'experiment.yaml', content.templates);
    const persona = parsePersona(`${PERSONA}arms: { subject-test: medium, to-sales: long }\n`);
    if (!parsedSequence.ok || !persona.ok) throw new Error('fixtures do not parse');
    expect(forcedArmProblems(persona.persona, parsedSequence.sequence)).toEqual([
      'arms.subject-test: "medium" is not an arm of that split (arms: short, long)',
      'arms: "to-sales" is not a split step of experiment (split steps: subject-test)',
    ]);
  });

  it('sends a held-out persona nothing and says so, yet walks it to the handoff', () => {
    const lines = run(`${PERSONA}holdout: true\narms: { subject-test: short }\n`);
    expect(lines).toContainEqual(expect.stringMatching(/ held +in the holdout group \(10%\): no email of experiment is sent$/));
    expect(lines).toContainEqual(expect.stringMatching(/ held +email-short: held out \(holdout group\), not sent \(welcome\)$/));
    // The kind column (after offset and local time) of every line: no email among them.
    const kinds = lines.slice(0, -1).map((line) => line.split(/ +/)[4]);
    expect(kinds).toContain('held');
    expect(kinds).not.toContain('email');
    expect(lines.at(-1)).toMatch(/^outcome: handed off to /);
  });
});

describe('baton simulate on the command line', () => {
  const run = runCommand;
  afterEach(endStartedProcesses);
  const baton = (args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...CONTENT_ENV },
    });

  it('prints the timeline and exits 0', async () => {
    const { stdout } = await baton(['simulate', 're-engagement', '--persona', path.join(FIXTURE_CONTENT.personas, 'dormant-returns.yaml')]);
    expect(stdout).toBe(await readFile(path.join(GOLDEN, 're-engagement--dormant-returns.txt'), 'utf8'));
  }, 30_000);

  it('exits 1 naming the persona file, line and field of a bad persona', async () => {
    const file = path.join(ROOT, 'tests/golden/simulate/bad-persona.yaml.tmp');
    await writeFile(file, 'lead:\n  email: not-an-address\nbehaviour:\n  - { at: soon, event: page_view }\n');
    try {
      const error = await run(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'simulate', 'b2b-nurture', '--persona', file], {
        cwd: ROOT,
        env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...CONTENT_ENV },
      }).then(
        () => null,
        (failure: { code: number; stdout: string }) => failure,
      );
      expect(error?.code).toBe(1);
      expect(error?.stdout).toMatch(/bad-persona\.yaml\.tmp:2 lead\.email: must be a valid email/);
      expect(error?.stdout).toMatch(/bad-persona\.yaml\.tmp:4 behaviour\[0\]\.at: "soon" is not a duration/);
    } finally {
      const { rm } = await import('node:fs/promises');
      await rm(file, { force: true });
    }
  }, 30_000);
});
