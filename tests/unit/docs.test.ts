import { readFile } from 'node:fs/promises';
import { ERROR_CODES } from '../../src/platform/errors.js';

/* The reference docs list what the code does; these checks fail when one changes without the other. */

const read = (file: string) => readFile(new URL(`../../${file}`, import.meta.url), 'utf8');

describe('docs stay in step with the code', () => {
  it('docs/api.md lists every error code with its status', async () => {
    const api = await read('docs/api.md');
    for (const [code, { status }] of Object.entries(ERROR_CODES)) {
      expect(api).toContain(`| \`${code}\` | ${status} |`);
    }
  });

  it('docs/configuration.md describes every environment variable the config schema reads', async () => {
    const [docs, config, capture] = await Promise.all([read('docs/configuration.md'), read('src/platform/config.ts'), read('src/capture/capture-config.ts')]);
    const source = `${config}\n${capture}`;
    const variables = [...source.matchAll(/^ {2}([A-Z][A-Z_]+): Joi\./gm)].map((match) => match[1]);
    expect(variables.length).toBeGreaterThan(10);
    for (const variable of variables) expect(docs).toContain(`| \`${variable}\` |`);
  });
});
