import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandFailed, endStartedProcesses, runCommand } from '../helpers/process-group.js';

/*
 * Issue 15: "every problem in every file, in one run, each `file:line path: message` on the line
 * the marketer wrote". One `baton validate` over tests/fixtures/broken-content (see its README);
 * each file's messages are a snapshot, and every broken file must have its say in the same run.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CORPUS = 'tests/fixtures/broken-content';
/** Valid files of the corpus: they must produce no problem. */
const VALID = new Set(['templates/welcome.mjml', 'templates/handoff-briefing.mjml', 'sequences/names-broken-template.yaml']);

afterEach(endStartedProcesses);

let problems: string[];

beforeAll(async () => {
  const args = [
    'validate',
    '--json',
    '--templates',
    `${CORPUS}/templates`,
    '--sequences',
    `${CORPUS}/sequences`,
    '--scoring',
    `${CORPUS}/scoring.yaml`,
    '--sales-team',
    `${CORPUS}/sales-team.yaml`,
  ];
  const failed = await runCommand(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BATON_DATA_DIR: path.join(ROOT, CORPUS, '.data') },
  }).then(
    () => null,
    (error: CommandFailed) => error,
  );
  expect(failed?.code).toBe(1);
  problems = (JSON.parse(failed?.stdout ?? '{}') as { problems: string[] }).problems;
}, 120_000);

async function corpusFiles(): Promise<string[]> {
  const files = ['scoring.yaml', 'sales-team.yaml'];
  for (const dir of ['templates', 'sequences']) {
    for (const entry of await readdir(path.join(ROOT, CORPUS, dir))) if (/\.(mjml|yaml)$/.test(entry)) files.push(`${dir}/${entry}`);
  }
  return files.sort();
}

const problemsOf = (file: string) => problems.filter((problem) => problem.startsWith(`${CORPUS}/${file}`)).map((problem) => problem.slice(CORPUS.length + 1));

test('one run reports every broken file of the corpus (at least 12), and nothing for the valid ones', async () => {
  const files = await corpusFiles();
  const broken = files.filter((file) => !VALID.has(file));
  expect(broken.length).toBeGreaterThanOrEqual(12);
  expect(broken.filter((file) => problemsOf(file).length === 0)).toEqual([]);
  expect([...VALID].flatMap(problemsOf)).toEqual([]);
  // Every message belongs to a corpus file and names its line, where a line exists.
  expect(problems.filter((problem) => !files.some((file) => problem.startsWith(`${CORPUS}/${file}`)))).toEqual([]);
});

test.each([
  'templates/unknown-helper.mjml',
  'templates/unclosed-block.mjml',
  'templates/mismatched-block.mjml',
  'templates/no-front-matter.mjml',
  'templates/tab-in-front-matter.mjml',
  'templates/no-unsubscribe.mjml',
  'templates/unknown-layout.mjml',
  'sequences/tab.yaml',
  'sequences/over-indented.yaml',
  'sequences/wrong-values.yaml',
  'sequences/duplicate-key.yaml',
  'scoring.yaml',
  'sales-team.yaml',
])('%s', (file) => {
  expect(problemsOf(file)).toMatchSnapshot();
});
