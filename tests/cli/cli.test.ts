import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { builtBaton } from '../helpers/built-baton.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { CommandFailed, endStartedProcesses, runCommand } from '../helpers/process-group.js';

/* The `baton` command as a marketer or CI runs it: a real process, real files, exit codes. */

const run = runCommand;
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-cli-'));
  // A copy of the fixture content, to break one file at a time.
  for (const entry of ['templates', 'sequences', 'scoring.yaml', 'sales-team.yaml'])
    await cp(path.join(FIXTURE_CONTENT.dir, entry), path.join(dir, entry), { recursive: true });
});

// A command a failing or timed-out test left running ends here, with whatever it started.
afterEach(endStartedProcesses);
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const baton = async (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [...(await builtBaton('cli')), ...args], {
    cwd: ROOT,
    // Content from the copy, never the checkout's own (preview and send-test read the configured templates).
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      BATON_DATA_DIR: dir,
      BATON_TEMPLATES_DIR: path.join(dir, 'templates'),
      BATON_SEQUENCES_DIR: path.join(dir, 'sequences'),
      ...env,
    },
  });
const fails = (args: string[]) =>
  baton(args).then(
    () => {
      throw new Error(`baton ${args.join(' ')} succeeded`);
    },
    (error: CommandFailed) => error,
  );
const contentArgs = (overrides: Record<string, string> = {}) =>
  Object.entries({
    '--templates': path.join(dir, 'templates'),
    '--sequences': path.join(dir, 'sequences'),
    '--scoring': path.join(dir, 'scoring.yaml'),
    '--sales-team': path.join(dir, 'sales-team.yaml'),
    ...overrides,
  }).flat();

describe('baton validate', () => {
  it('passes the fixture content and says what it checked', async () => {
    const { stdout } = await baton(['validate', ...contentArgs(), '--json']);
    expect(JSON.parse(stdout)).toEqual({
      ok: true,
      templates: 10,
      sequences: ['b2b-nurture@1', 're-engagement@1'],
      scoring: { rules: 15, handoff: true },
      salesTeam: { reps: 4 },
    });
  }, 30_000);

  it.each([
    {
      what: 'a sequence whose wait is not a duration',
      file: 'broken-sequences/broken.yaml',
      text: 'id: broken\nname: Broken\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: a\n    wait: soon\n',
      args: (file: string) => ({ '--sequences': path.dirname(file) }),
      message: /broken\.yaml:8 steps\[0\]\.wait: "soon" is not a duration/,
    },
    {
      what: 'a marketing template without an unsubscribe link',
      file: 'broken-templates/no-unsubscribe.mjml',
      text: '---\nsubject: Hello\n---\n<mjml><mj-body><mj-section><mj-column><mj-text>Hi</mj-text></mj-column></mj-section></mj-body></mjml>\n',
      args: (file: string) => ({ '--templates': path.dirname(file), '--scoring': path.join(dir, 'none.yaml') }),
      message: /no-unsubscribe\.mjml.*unsubscribe/,
    },
    {
      what: 'a scoring rule with a bad regular expression',
      file: 'scoring-broken.yaml',
      text: 'fit:\n  - { id: exec, field: title, matches: "(", points: 5 }\n',
      args: (file: string) => ({ '--scoring': file }),
      message: /scoring-broken\.yaml:2 fit\[0\]\.matches: "\(" is not a valid regular expression/,
    },
    {
      what: 'a sales team whose fallback owner is not a rep',
      file: 'team-broken.yaml',
      text: 'fallback_owner: nobody\nreps:\n  - { id: alex, name: Alex, email: alex@example.com }\n',
      args: (file: string) => ({ '--sales-team': file }),
      message: /team-broken\.yaml:1 fallback_owner: "nobody" is not a rep id/,
    },
  ])(
    'exits 1 naming file and line for $what',
    async ({ file, text, args, message }) => {
      const full = path.join(dir, file);
      const { mkdir } = await import('node:fs/promises');
      await mkdir(path.dirname(full), { recursive: true });
      if (file.startsWith('broken-templates/')) await cp(path.join(dir, 'templates'), path.dirname(full), { recursive: true });
      await writeFile(full, text);
      const error = await fails(['validate', ...contentArgs(args(full))]);
      expect(error.code).toBe(1);
      expect(error.stdout).toMatch(message);
    },
    30_000,
  );

  it('reports a YAML alias bomb as file:line among the other problems (issue 16)', async () => {
    const sequences = path.join(dir, 'bomb-sequences');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(sequences, { recursive: true });
    const levels = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'];
    const bomb = levels.map(
      (name, index) => `  ${name}: &${name} [${Array.from({ length: 9 }, () => (index === 0 ? '"lol"' : `*${levels[index - 1] ?? ''}`)).join(', ')}]`,
    );
    await writeFile(path.join(sequences, 'bomb.yaml'), `id: bomb\nname: Bomb\nversion: 1\nx:\n${bomb.join('\n')}\n`);
    await writeFile(
      path.join(sequences, 'broken.yaml'),
      'id: broken\nname: Broken\nversion: 1\nentry:\n  trigger: { type: manual }\nsteps:\n  - id: a\n    wait: soon\n',
    );
    const error = await fails(['validate', ...contentArgs({ '--sequences': sequences })]);
    expect(error.code).toBe(1);
    expect(error.stderr).not.toContain('ReferenceError');
    expect(error.stdout).toMatch(/bomb\.yaml:6 YAML: aliases \(\*name\) expand to more than the 100 nodes allowed/);
    expect(error.stdout).toMatch(/broken\.yaml:8 steps\[0\]\.wait: "soon" is not a duration/);
  }, 30_000);

  it('runs as npx baton from the checkout', async () => {
    const { stdout } = await run('npx', ['--no-install', 'baton', 'validate', ...contentArgs(), '--json'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', BATON_DATA_DIR: dir },
    });
    expect(JSON.parse(stdout)).toMatchObject({ ok: true, sequences: ['b2b-nurture@1', 're-engagement@1'] });
  }, 120_000);

  it('exits 2 on a command line it does not understand', async () => {
    const error = await fails(['validate', '--frobnicate']);
    expect(error.code).toBe(2);
    expect(error.stderr).toContain('usage: baton <command>');
  }, 30_000);
});

describe('baton preview', () => {
  it('renders a template for the lead given, prints subject and text, and writes the HTML', async () => {
    await writeFile(path.join(dir, 'lead.json'), JSON.stringify({ email: 'grace@navy.test', firstName: 'Grace', company: 'US Navy' }));
    const out = path.join(dir, 'welcome.html');
    const { stdout } = await baton(['preview', 'welcome', '--lead', path.join(dir, 'lead.json'), '--out', out, '--json']);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ template: 'welcome', category: 'marketing', subject: 'Welcome, Grace: your pipeline playbook', htmlFile: out });
    expect(report.text).toContain('on behalf of US Navy');
    expect(await readFile(out, 'utf8')).toContain('<!doctype html>');
  }, 30_000);

  it("previews the rep's handoff briefing with a realistic sample, not an empty note", async () => {
    const out = path.join(dir, 'briefing.html');
    const { stdout } = await baton(['preview', 'handoff-briefing', '--out', out, '--json']);
    const report = JSON.parse(stdout);
    expect(report.subject).toBe('Hot lead: Ada Lovelace (Analytical Engines Ltd), score 113.5');
    const html = await readFile(out, 'utf8');
    for (const shown of [
      'VP Engineering',
      'Asked for a demo',
      'Viewed “Pricing” (/pricing)',
      'Submitted form demo',
      'Call to confirm the demo',
      'B2B nurture',
      'Alex Kim',
    ])
      expect([shown, html.includes(shown)]).toEqual([shown, true]);
    // The lead link opens the dashboard, not the API.
    expect(html).toMatch(/href="http:\/\/localhost:\d+\/dashboard\/leads\/[0-9a-f-]{36}"/);
  }, 30_000);

  it('names the templates there are when asked for one that is not', async () => {
    const error = await fails(['preview', 'nope']);
    expect(error.code).toBe(2);
    expect(error.stderr).toMatch(/no template "nope"; templates: .*welcome/);
  }, 30_000);
});

describe('baton import and export', () => {
  it('imports a CSV, reports the rows it refused with file and line, and exports what it stored', async () => {
    const csv = path.join(dir, 'leads.csv');
    await writeFile(csv, 'email,first_name,company\nada@example.com,Ada,Acme\nnot-an-address,Bob,Beta\ngrace@example.com,Grace,Navy\n');
    const error = await fails(['import', csv]);
    expect(error.code).toBe(1);
    expect(error.stdout).toContain('3 rows: 2 created, 0 updated, 1 rejected');
    expect(error.stdout).toContain(`${csv}:3 not-an-address: email must be a valid email`);
    const out = path.join(dir, 'export.csv');
    await baton(['export', '--out', out]);
    const lines = (await readFile(out, 'utf8')).trim().split('\n');
    expect(lines[0]).toMatch(/^id,email,first_name,/);
    expect(
      lines
        .slice(1)
        .map((line) => line.split(',')[1])
        .sort(),
    ).toEqual(['ada@example.com', 'grace@example.com']);
    // Two processes that each start the embedded database on disk: over 60 s at load average 20.
  }, 180_000);
});

describe('baton send-test', () => {
  it('sends one rendered email over SMTP with [test] in the subject', async () => {
    const received: string[] = [];
    const sink = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          received.push(Buffer.concat(chunks).toString('utf8'));
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = sink.server.address() as { port: number };
      const { stdout } = await baton(['send-test', 'case-study', '--to', 'me@marketing.test'], { SMTP_URL: `smtp://127.0.0.1:${port}` });
      expect(stdout).toContain('sent to me@marketing.test');
      expect(received).toHaveLength(1);
      const mail = await simpleParser(received[0] ?? '');
      expect(mail.subject).toMatch(/^\[test\] /);
      expect(mail.to).toMatchObject({ text: 'me@marketing.test' });
    } finally {
      await new Promise<void>((resolve) => sink.close(() => resolve()));
    }
  }, 30_000);
});
