import { parseSalesTeam } from '../../src/handoff/sales-team.js';
import { parseScoringConfig } from '../../src/scoring/scoring-config.js';
import type { TemplateCatalogue } from '../../src/sequences/sequence-checks.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';
import { parseTemplateSource } from '../../src/templates/template-source.js';

/*
 * Billion laughs: nine levels of nine aliases, 9^9 strings once expanded. Every marketer file is
 * YAML, so every parser must turn it into a problem with a line, not an exception (issue 16).
 */
function aliasBomb(key: string): string {
  const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
  const lines = levels.map((name, index) => {
    const previous = levels[index - 1];
    const items = previous ? Array.from({ length: 9 }, () => `*${previous}`) : Array.from({ length: 9 }, () => '"lol"');
    return `  ${name}: &${name} [${items.join(', ')}]`;
  });
  return `${key}:\n${lines.join('\n')}\n`;
}

const MESSAGE = 'YAML: aliases (*name) expand to more than the 100 nodes allowed; write the values out instead of nesting aliases';
const templates: TemplateCatalogue = { has: () => true, names: () => [] };

describe('a YAML alias bomb', () => {
  it('is a problem with a line in a sequence file', () => {
    const result = parseSequence(`id: bomb\nname: Bomb\nversion: 1\n${aliasBomb('x')}`, 'bomb.yaml', templates);
    // Line 6: the first alias, in the second level (the file's 4th line is "x:").
    expect(result).toEqual({ ok: false, problems: [{ file: 'bomb.yaml', line: 6, path: '', message: MESSAGE }] });
  });

  it('is a problem with a line in the sales team file', () => {
    expect(parseSalesTeam(aliasBomb('reps'))).toEqual({ ok: false, problems: [{ line: 3, path: '', message: MESSAGE }] });
  });

  it('is a problem with a line in the scoring file', () => {
    expect(parseScoringConfig(aliasBomb('fit'))).toMatchObject({ ok: false, problems: [{ line: 3, path: '', message: MESSAGE }] });
  });

  it('is a problem with a line in template front matter', () => {
    const result = parseTemplateSource('bomb', 'bomb.mjml', `---\nsubject: Hi\n${aliasBomb('links')}---\n<mjml></mjml>\n`);
    expect(result).toEqual({ ok: false, problems: [{ file: 'bomb.mjml', line: 5, message: `front matter: ${MESSAGE}` }] });
  });

  it('still allows ordinary aliases', () => {
    const result = parseSalesTeam(
      'fallback_owner: alex\nreps:\n  - { id: alex, name: Alex, email: alex@example.com, territories: &us [{ countries: [US] }] }\n  - { id: sam, name: Sam, email: sam@example.com, territories: *us }\n',
    );
    expect(result).toMatchObject({ ok: true, team: { reps: [{ territories: [{ countries: ['US'] }] }, { territories: [{ countries: ['US'] }] }] } });
  });
});
