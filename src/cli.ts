import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { contentPaths, loadContent, type ContentPaths } from './content/content-loader.js';
import { createMailTransport } from './mail/mail-transport.js';
import { openDatabase } from './platform/db/database.js';
import { migrate } from './platform/db/migrate.js';
import { ConfigError, loadConfig, type Config } from './platform/config.js';
import { createBacktestTally, formatBacktest } from './scoring/backtest.js';
import { leadsForBacktest } from './scoring/backtest.repository.js';
import { parseScoringConfig } from './scoring/scoring-config.js';
import { createLogger } from './platform/logger.js';
import { resolveSecrets } from './platform/secrets.js';
import { createServices, type Services } from './services.js';
import { loadTemplates, type TemplateContext } from './templates/template-store.js';
import { forcedArmProblems, parsePersona } from './simulate/persona.js';
import { formatTimeline, simulate } from './simulate/simulate.js';
import { BRIEFING_TEMPLATE } from './handoff/handoff-notifier.js';
import { sampleBriefing } from './handoff/sample-briefing.js';
import { doctorCommand } from './identity/doctor-command.js';
import { parseReportQuery } from './reporting/report-window.js';
import { formatFunnelTable, funnelCsv } from './reporting/funnel-format.js';

/*
 * `baton` commands for people at a terminal and for CI (`npm run baton -- <command>`). Exit codes:
 * 0 done, 1 the content or the work has problems (listed), 2 the command line is wrong.
 */

const USAGE = `usage: baton <command> [options]

  validate [--templates DIR] [--sequences DIR] [--scoring FILE] [--sales-team FILE] [--webhooks FILE] [--json]
      check templates, sequences, the scoring file and the sales team file together, as Baton
      does at start; every problem as file:line path: message; exit 1 on any
  preview <template> [--lead lead.json] [--out FILE] [--json]
      render a template for a sample lead (or the lead in lead.json): subject, preheader and text
      on the terminal, the HTML in a file (default preview-<template>.html)
  simulate <sequence> --persona persona.yaml [--json]
      a dry run on a virtual clock, sending nothing: the emails and when (send windows and the
      frequency cap applied), the branches taken, the score after each of the persona's events,
      and when the handoff would fire and to whom
  send-test <template> --to ADDRESS [--lead lead.json]
      render and send one test email through SMTP_URL, subject prefixed [test]
  import <leads.csv> [--json]
      create or update leads from a CSV file, as POST /api/leads/import does; a progress bar on a terminal
  export [--out FILE] [--bom]
      every lead as CSV (spreadsheet-safe), to FILE or standard output; --bom for Excel (UTF-8 mark)
  score backtest [--scoring FILE] [--thresholds 30,50,70] [--json]
      replay every stored event through a scoring file: per MQL threshold, how many leads would
      have become MQLs, what sales made of them, and how many later customers each would have
      handed off and how early
  doctor [--dns-server HOST[:PORT],…] [--json]
      will receivers trust this Baton's mail? SPF, DKIM and DMARC of the From domain and the
      bounce domain, MX for bounces, TLS of SMTP_URL, the public URL; exit 1 when a check fails
  report funnel [--from DATE] [--to DATE] [--by source|sequence|rep|month] [--tz ZONE] [--json | --csv]
      the lifecycle funnel of the leads created in the period (default: the last 365 days):
      counts per stage, conversion rates with 95% intervals, time in stage, value, rejections

Paths default to Baton's configuration (BATON_TEMPLATES_DIR, BATON_SEQUENCES_DIR, …). Commands
that read the database use DATABASE_URL, or the embedded one in BATON_DATA_DIR, which a running
Baton holds: stop it first.`;

class UsageError extends Error {}

const OPTIONS = {
  templates: { type: 'string' },
  sequences: { type: 'string' },
  scoring: { type: 'string' },
  'sales-team': { type: 'string' },
  webhooks: { type: 'string' },
  lead: { type: 'string' },
  out: { type: 'string' },
  to: { type: 'string' },
  thresholds: { type: 'string' },
  persona: { type: 'string' },
  'dns-server': { type: 'string' },
  from: { type: 'string' },
  by: { type: 'string' },
  tz: { type: 'string' },
  csv: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  bom: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

// hasColors() honours NO_COLOR and FORCE_COLOR.
const colour = process.stdout.isTTY && process.stdout.hasColors();
const paint = (code: number, text: string) => (colour ? `\u001b[${code}m${text}\u001b[0m` : text);
const red = (text: string) => paint(31, text);
const green = (text: string) => paint(32, text);
const bold = (text: string) => paint(1, text);
const print = (text: string) => process.stdout.write(`${text}\n`);

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  if (values.help || !command) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig(process.env);
  switch (command) {
    case 'validate':
      return validate(config, values, rest);
    case 'preview':
      return preview(config, values, rest);
    case 'send-test':
      return sendTest(config, values, rest);
    case 'simulate':
      return simulateCommand(config, values, rest);
    case 'import':
      return importCommand(config, values, rest);
    case 'export':
      return exportCommand(config, values, rest);
    case 'doctor': {
      // BATON_BOUNCE_DOMAIN belongs to the bounce handling (issue 12 §1); read here until the config carries it.
      const report = await doctorCommand(config, {
        dnsServers: values['dns-server'],
        bounceDomain: process.env.BATON_BOUNCE_DOMAIN || null,
        json: values.json,
        paint: (status, text) => (status === 'pass' ? green(text) : status === 'fail' ? red(text) : paint(33, text)),
      });
      print(report.output);
      return report.code;
    }
    case 'score':
      if (rest.join(' ') === 'backtest') return backtest(config, values);
      throw new UsageError(`unknown command "score ${rest.join(' ')}"; did you mean "score backtest"?`);
    case 'report':
      if (rest.join(' ') === 'funnel') return reportFunnel(config, values);
      throw new UsageError(`unknown command "report ${rest.join(' ')}"; did you mean "report funnel"?`);
    default:
      throw new UsageError(
        `unknown command "${command}"; commands: validate, preview, simulate, send-test, import, export, score backtest, report funnel, doctor`,
      );
  }
}

async function validate(config: Config, values: Values, extra: string[]): Promise<number> {
  if (extra.length > 0) throw new UsageError(`validate takes options, not "${extra.join(' ')}": --templates, --sequences, --scoring, --sales-team, --webhooks`);
  const defaults = contentPaths(config);
  const paths: ContentPaths = {
    templatesDir: values.templates ? path.resolve(values.templates) : defaults.templatesDir,
    sequencesDir: values.sequences ? path.resolve(values.sequences) : defaults.sequencesDir,
    scoringFile: values.scoring ? { path: path.resolve(values.scoring), explicit: true } : defaults.scoringFile,
    salesTeamFile: values['sales-team'] ? { path: path.resolve(values['sales-team']), explicit: true } : defaults.salesTeamFile,
    ...(defaults.webhooks
      ? { webhooks: values.webhooks ? { ...defaults.webhooks, file: { path: path.resolve(values.webhooks), explicit: true } } : defaults.webhooks }
      : {}),
  };
  // A directory named on the command line must be there (Baton itself starts without sequences).
  const missing = [values.templates && paths.templatesDir, values.sequences && paths.sequencesDir].filter((dir): dir is string => Boolean(dir));
  const absent = (await Promise.all(missing.map(async (dir) => ((await stat(dir).catch(() => null))?.isDirectory() ? null : dir)))).filter(
    (dir): dir is string => dir !== null,
  );
  const result = absent.length > 0 ? { ok: false as const, problems: absent.map((dir) => `${dir}: no such directory`) } : await loadContent(paths);
  if (!result.ok) {
    if (values.json) print(JSON.stringify({ ok: false, problems: result.problems }, null, 2));
    else
      print(
        `${red('✗')} ${result.problems.length} problem${result.problems.length === 1 ? '' : 's'}:\n${result.problems.map((problem) => `  ${red('-')} ${problem}`).join('\n')}`,
      );
    return 1;
  }
  const { templates, sequences, scoring } = result.content;
  const summary = {
    ok: true,
    templates: templates.names().length,
    sequences: sequences.map((sequence) => `${sequence.id}@${sequence.version}`),
    scoring: scoring ? { rules: scoring.config.rules.behaviour.length + scoring.config.rules.fit.length, handoff: scoring.team !== null } : null,
    salesTeam: scoring?.team ? { reps: scoring.team.reps.length } : null,
  };
  if (values.json) print(JSON.stringify(summary, null, 2));
  else {
    print(`${green('✓')} ${summary.templates} templates, ${summary.sequences.length} sequences (${summary.sequences.join(', ')})`);
    print(
      `${green('✓')} ${summary.scoring ? `scoring: ${summary.scoring.rules} rules${summary.salesTeam ? `, sales team: ${summary.salesTeam.reps} reps` : ', no handoff'}` : 'no scoring file'}`,
    );
  }
  return 0;
}

const SAMPLE_LEAD = {
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  company: 'Analytical Engines Ltd',
  title: 'VP Engineering',
  country: 'GB',
  timezone: 'Europe/London',
  traits: { company_size: 120 },
  tags: [],
};

async function readLead(file: string | undefined): Promise<Record<string, unknown>> {
  if (!file) return SAMPLE_LEAD;
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`--lead ${file}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new UsageError(`--lead ${file}: must hold a JSON object (the lead's fields, as the API shows them)`);
  return parsed as Record<string, unknown>;
}

async function renderOne(config: Config, values: Values, extra: string[], command: string) {
  const [name, ...more] = extra;
  if (!name || more.length > 0) throw new UsageError(`${command} takes one template name, e.g. baton ${command} welcome`);
  const loaded = await loadTemplates(values.templates ? path.resolve(values.templates) : config.templatesDir);
  if (!loaded.ok)
    return {
      problems: loaded.problems.map((problem) => `${path.relative(process.cwd(), problem.file)}${problem.line ? `:${problem.line}` : ''} ${problem.message}`),
    };
  if (!loaded.store.has(name)) throw new UsageError(`no template "${name}"; templates: ${loaded.store.names().join(', ')}`);
  const context: TemplateContext = {
    lead: await readLead(values.lead),
    company: config.company,
    links: { unsubscribe: `${config.publicUrl}/u/preview-token` },
    sequence: { id: 'preview', name: 'Preview' },
    step: { id: 'preview' },
    // The rep's briefing template reads `briefing`, not the lead: give it a realistic one.
    ...(name === BRIEFING_TEMPLATE ? { briefing: sampleBriefing({ now: new Date(), publicUrl: config.publicUrl }) } : {}),
  };
  return { email: loaded.store.render(name, context) };
}

async function preview(config: Config, values: Values, extra: string[]): Promise<number> {
  const result = await renderOne(config, values, extra, 'preview');
  if ('problems' in result) {
    print(`${red('✗')} templates have problems:\n${(result.problems ?? []).map((problem) => `  ${red('-')} ${problem}`).join('\n')}`);
    return 1;
  }
  const { email } = result;
  const out = path.resolve(values.out ?? `preview-${email.template}.html`);
  await writeFile(out, email.html);
  if (values.json)
    print(
      JSON.stringify(
        {
          template: email.template,
          category: email.category,
          from: email.from,
          subject: email.subject,
          preheader: email.preheader,
          text: email.text,
          htmlFile: out,
        },
        null,
        2,
      ),
    );
  else
    print(
      `${bold('Subject:')}   ${email.subject}\n${bold('Preheader:')} ${email.preheader}\n${bold('From:')}      ${email.from ?? config.mailFrom}\n${bold('Category:')}  ${email.category}\n${bold('HTML:')}      ${out}\n\n${email.text}`,
    );
  return 0;
}

async function sendTest(config: Config, values: Values, extra: string[]): Promise<number> {
  if (!values.to) throw new UsageError('send-test needs --to ADDRESS');
  if (!config.smtpUrl) throw new UsageError("send-test sends through SMTP_URL, which is not set (a running Baton's embedded sink is not reachable from here)");
  const result = await renderOne(config, values, extra, 'send-test');
  if ('problems' in result) {
    print(`${red('✗')} templates have problems:\n${(result.problems ?? []).map((problem) => `  ${red('-')} ${problem}`).join('\n')}`);
    return 1;
  }
  const transport = createMailTransport(config.smtpUrl, config.dkim, 1);
  try {
    const { email } = result;
    const sent = await transport.send({
      from: email.from ?? config.mailFrom,
      to: values.to,
      subject: `[test] ${email.subject}`,
      html: email.html,
      text: email.text,
    });
    if (sent.outcome.kind !== 'sent') {
      print(`${red('✗')} not sent: ${sent.outcome.reason}`);
      return 1;
    }
    print(`${green('✓')} sent to ${values.to}: ${sent.response}`);
    return 0;
  } finally {
    transport.close();
  }
}

async function simulateCommand(config: Config, values: Values, extra: string[]): Promise<number> {
  const [sequenceId, ...more] = extra;
  if (!sequenceId || more.length > 0 || !values.persona)
    throw new UsageError('simulate takes one sequence id and --persona FILE, e.g. baton simulate b2b-nurture --persona personas/engaged-vp.yaml');
  const personaFile = values.persona;
  const parsed = parsePersona(
    await readFile(personaFile, 'utf8').catch(() => {
      throw new UsageError(`--persona ${personaFile}: no such file`);
    }),
  );
  const loaded = await loadContent(contentPaths(config));
  const problems = [
    ...(loaded.ok ? [] : loaded.problems),
    ...(parsed.ok
      ? []
      : parsed.problems.map(
          (problem) => `${personaFile}${problem.line ? `:${problem.line}` : ''} ${problem.path ? `${problem.path}: ` : ''}${problem.message}`,
        )),
  ];
  if (!loaded.ok || !parsed.ok) {
    print(`${red('✗')} ${problems.length} problem${problems.length === 1 ? '' : 's'}:\n${problems.map((problem) => `  ${red('-')} ${problem}`).join('\n')}`);
    return 1;
  }
  const { templates, sequences, scoring } = loaded.content;
  const sequence = sequences.find((candidate) => candidate.id === sequenceId);
  if (!sequence) throw new UsageError(`no sequence "${sequenceId}"; sequences: ${sequences.map((candidate) => candidate.id).join(', ')}`);
  const unknownSteps = parsed.persona.behaviour.filter(
    (action) => action.kind === 'email' && !sequence.steps.some((step) => step.id === action.step && step.kind === 'email'),
  );
  if (unknownSteps.length > 0)
    throw new UsageError(
      `--persona ${personaFile}: ${unknownSteps.map((action) => (action.kind === 'email' ? `"${action.step}"` : '')).join(', ')} is not an email step of ${sequence.id}`,
    );
  const armProblems = forcedArmProblems(parsed.persona, sequence);
  if (armProblems.length > 0) throw new UsageError(`--persona ${personaFile}: ${armProblems.join('; ')}`);
  const simulation = simulate(parsed.persona, {
    sequence,
    subjectOf: (step, lead) =>
      templates.render(
        step.email.template,
        {
          lead: { ...lead },
          company: config.company,
          links: { unsubscribe: `${config.publicUrl}/u/simulated` },
          sequence: { id: sequence.id, name: sequence.name },
          step: { id: step.id },
        },
        { subject: step.email.subject },
      ).subject,
    isMarketing: (template) => templates.get(template)?.meta.category !== 'transactional',
    scoring: scoring?.config ?? null,
    team: scoring?.team ?? null,
    frequencyCap: config.frequencyCap,
  });
  print(values.json ? JSON.stringify(simulation, null, 2) : formatTimeline(simulation));
  return 0;
}

/** Baton's services over its database, for commands that read or write leads; closed after `work`. */
async function withServices<T>(config: Config, work: (services: Services) => Promise<T>): Promise<T> {
  const database = await openDatabase({ url: config.databaseUrl, embeddedDir: config.dataDir, poolSize: 4 });
  try {
    await migrate(database.pool);
    const { secret } = await resolveSecrets(config);
    const services = await createServices(database.db, { secret, publicUrl: config.publicUrl, logger: createLogger('warn') });
    try {
      return await work(services);
    } finally {
      await services.tracking.close();
    }
  } finally {
    await database.close();
  }
}

/** A bar on standard error, only on a terminal: `[#####.....]  52%  1.2 MB of 2.3 MB`. */
function progressBar(total: number): { advance(bytes: number): void; done(): void } {
  if (!process.stderr.isTTY || total === 0) return { advance: () => undefined, done: () => undefined };
  let seen = 0;
  let drawn = -1;
  const megabytes = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
  const draw = () => {
    const share = Math.min(1, seen / total);
    const percent = Math.floor(share * 100);
    if (percent === drawn) return;
    drawn = percent;
    const width = 30;
    const filled = Math.round(share * width);
    process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(percent).padStart(3)}%  ${megabytes(seen)} of ${megabytes(total)}`);
  };
  return {
    advance(bytes) {
      seen += bytes;
      draw();
    },
    done: () => process.stderr.write('\n'),
  };
}

async function importCommand(config: Config, values: Values, extra: string[]): Promise<number> {
  const [file, ...more] = extra;
  if (!file || more.length > 0) throw new UsageError('import takes one CSV file, e.g. baton import leads.csv');
  const size = (await stat(file).catch(() => null))?.size;
  if (size === undefined) throw new UsageError(`import: no such file ${file}`);
  const bar = progressBar(size);
  const report = await withServices(config, async (services) => {
    const input = createReadStream(file);
    input.on('data', (chunk) => bar.advance(chunk.length));
    try {
      return await services.leads.importCsv(input);
    } finally {
      bar.done();
    }
  });
  if (values.json) print(JSON.stringify(report, null, 2));
  else {
    print(
      `${report.rejected === 0 ? green('✓') : red('✗')} ${report.rows} rows: ${report.created} created, ${report.updated} updated, ${report.rejected} rejected`,
    );
    for (const rejection of report.rejections) print(`  ${red('-')} ${file}:${rejection.line} ${rejection.email ?? '(no email)'}: ${rejection.reason}`);
    if (report.rejectionsTruncated) print('  … more rejected rows than listed');
  }
  return report.rejected === 0 ? 0 : 1;
}

async function exportCommand(config: Config, values: Values, extra: string[]): Promise<number> {
  if (extra.length > 0) throw new UsageError(`export takes --out FILE and --bom, not "${extra.join(' ')}"`);
  await withServices(config, async (services) => {
    const csv = await services.leads.openCsvExport({}, { bom: values.bom });
    await pipeline(csv, values.out ? createWriteStream(values.out) : process.stdout);
  });
  if (values.out) console.error(`${green('✓')} leads written to ${values.out}`);
  return 0;
}

async function backtest(config: Config, values: Values): Promise<number> {
  const file = values.scoring ?? config.scoringFile.path;
  const parsed = parseScoringConfig(await readFile(file, 'utf8'));
  if (!parsed.ok) {
    console.error(
      `${file} has problems:\n${parsed.problems.map((problem) => `  - ${problem.line ? `line ${problem.line} ` : ''}${problem.path ? `${problem.path}: ` : ''}${problem.message}`).join('\n')}`,
    );
    return 1;
  }
  const thresholds = values.thresholds
    ? values.thresholds.split(',').map((part) => Number(part.trim()))
    : defaultThresholds(parsed.config.lifecycle?.mql.engagement ?? 50);
  if (thresholds.length === 0 || thresholds.some((value) => !Number.isFinite(value) || value <= 0)) {
    throw new UsageError(`--thresholds: "${values.thresholds}" must be positive numbers separated by commas, e.g. 30,50,70`);
  }
  const database = await openDatabase({ url: config.databaseUrl, embeddedDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(database.pool);
    const tally = createBacktestTally(parsed.config, thresholds, new Date());
    for await (const lead of leadsForBacktest(database.db)) tally.add(lead);
    const report = tally.report();
    print(values.json ? JSON.stringify(report, null, 2) : formatBacktest(report));
    return 0;
  } finally {
    await database.close();
  }
}

async function reportFunnel(config: Config, values: Values): Promise<number> {
  if (values.json && values.csv) throw new UsageError('report funnel: --json or --csv, not both');
  const parsed = parseReportQuery(
    Object.fromEntries(Object.entries({ from: values.from, to: values.to, by: values.by, tz: values.tz }).filter(([, value]) => value !== undefined)),
    new Date(),
  );
  if (!parsed.ok) throw new UsageError(`report funnel: --${parsed.field}: ${parsed.message}`);
  const report = await withServices(config, (services) => services.reporting.funnel(parsed.query));
  process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : values.csv ? funnelCsv(report) : `${formatFunnelTable(report)}\n`);
  return 0;
}

function defaultThresholds(mql: number): number[] {
  return [...new Set([mql * 0.5, mql * 0.75, mql, mql * 1.25, mql * 1.5].map((value) => Math.round(value)))].filter((value) => value > 0);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`baton: ${error.message}\n\n${USAGE}`);
      process.exit(2);
    }
    if (error instanceof ConfigError) console.error(error.message);
    else console.error('baton:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
