import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cachedMjmlCompiler } from '../../src/templates/mjml-cache.js';
import { loadTemplates } from '../../src/templates/template-store.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

/*
 * Compiled MJML kept between starts: a second load reads what the first wrote, an entry is found
 * only for the same MJML, a damaged entry is compiled again, and a broken template is never kept.
 */

const TEMPLATES = FIXTURE_CONTENT.templates;
const MJML = '<mjml><mj-body><mj-section><mj-column><mj-text>Hello {{lead.firstName}}</mj-text></mj-column></mj-section></mj-body></mjml>';
let cacheDir: string;

beforeEach(async () => {
  cacheDir = await mkdtemp(path.join(os.tmpdir(), 'baton-mjml-cache-'));
});
afterEach(async () => {
  await rm(cacheDir, { recursive: true, force: true });
});

const entries = async () => (await readdir(cacheDir)).filter((name) => name.endsWith('.json')).sort();

describe('the compiled MJML cache', () => {
  it('keeps one entry per template, and a second load renders the same from them', async () => {
    const first = await loadTemplates(TEMPLATES, cacheDir);
    if (!first.ok) throw new Error(JSON.stringify(first.problems));
    const written = await entries();
    expect(written).toHaveLength(first.store.names().length);
    const second = await loadTemplates(TEMPLATES, cacheDir);
    if (!second.ok) throw new Error(JSON.stringify(second.problems));
    expect(await entries()).toEqual(written);
    const context = { lead: { firstName: 'Ada', email: 'ada@example.com', traits: {} }, company: { name: 'Acme', postalAddress: '1 Main St' }, links: { unsubscribe: 'https://baton.test/u/x' } };
    for (const name of first.store.names()) expect(second.store.render(name, context)).toEqual(first.store.render(name, context));
  });

  it('answers from the entry for the same MJML, and compiles again for other MJML or a damaged entry', async () => {
    const compiler = cachedMjmlCompiler(cacheDir);
    try {
      const compiled = await compiler.compile(MJML);
      expect(compiled.ok).toBe(true);
      const [entry = ''] = await entries();
      // Proof that the entry is what answers: change it, and the change comes back.
      await writeFile(path.join(cacheDir, entry), JSON.stringify({ html: '<p>from the cache</p>' }));
      expect(await compiler.compile(MJML)).toEqual({ ok: true, html: '<p>from the cache</p>' });
      // Other MJML has its own entry.
      const other = await compiler.compile(MJML.replace('Hello', 'Goodbye'));
      expect(other.ok && other.html.includes('Goodbye')).toBe(true);
      expect(await entries()).toHaveLength(2);
      // A torn entry is compiled again, and rewritten.
      await writeFile(path.join(cacheDir, entry), '{"html": "<p>to');
      const again = await compiler.compile(MJML);
      expect(again.ok && again.html.includes('Hello {{lead.firstName}}')).toBe(true);
      expect(JSON.parse(await readFile(path.join(cacheDir, entry), 'utf8'))).toEqual({ html: again.ok ? again.html : '' });
    } finally {
      await compiler.close();
    }
  });

  it('keeps nothing for MJML that does not compile', async () => {
    const compiler = cachedMjmlCompiler(cacheDir);
    try {
      const broken = await compiler.compile('<mjml><mj-body><mj-colum></mj-colum></mj-body></mjml>');
      expect(broken.ok).toBe(false);
      expect(await entries()).toEqual([]);
    } finally {
      await compiler.close();
    }
  });
});
