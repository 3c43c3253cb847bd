import path from 'node:path';
import { contentPaths, loadContent } from '../../src/content/content-loader.js';
import { loadConfig } from '../../src/platform/config.js';

/**
 * Every problem in the content under `root` (templates/, sequences/, and scoring.yaml and
 * sales-team.yaml beside them), as `file:line path: message`, exactly as Baton reports them at
 * start and `baton validate` prints them: the same configuration defaults and the same loader.
 */
export async function contentProblems(root: string): Promise<string[]> {
  const config = loadConfig({ BATON_TEMPLATES_DIR: path.join(root, 'templates'), BATON_SEQUENCES_DIR: path.join(root, 'sequences') });
  const result = await loadContent(contentPaths(config));
  return result.ok ? [] : result.problems;
}

/** The failure a marketer reads in CI: one line per problem, each naming its file and line. */
export function contentReport(problems: string[]): string {
  return `The content in this checkout has ${problems.length} problem${problems.length === 1 ? '' : 's'} (npx baton validate lists the same):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`;
}
