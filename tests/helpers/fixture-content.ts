import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The tests' own content (tests/fixtures/content): a frozen copy of the shipped examples, so that
 * a marketer's own templates and sequences in the checkout never change what a test sees.
 */
const DIR = fileURLToPath(new URL('../fixtures/content/', import.meta.url));

export const FIXTURE_CONTENT = {
  dir: DIR,
  templates: path.join(DIR, 'templates'),
  sequences: path.join(DIR, 'sequences'),
  forms: path.join(DIR, 'forms'),
  scoring: path.join(DIR, 'scoring.yaml'),
  salesTeam: path.join(DIR, 'sales-team.yaml'),
  personas: path.join(DIR, 'personas'),
};
