import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { openDatabase } from './platform/db/database.js';
import { migrate } from './platform/db/migrate.js';
import { ConfigError, loadConfig } from './platform/config.js';
import { createBacktestTally, formatBacktest } from './scoring/backtest.js';
import { leadsForBacktest } from './scoring/backtest.repository.js';
import { parseScoringConfig } from './scoring/scoring-config.js';

/*
 * `baton` commands for people at a terminal (`npm run baton -- <command>`):
 *
 *   baton score backtest [--scoring FILE] [--thresholds 30,50,70] [--json]
 *
 * The backtest replays every stored event through a scoring file and reports, per MQL threshold,
 * how many leads would have become MQLs and what sales made of those it actually got.
 */

const USAGE = `usage: baton score backtest [--scoring FILE] [--thresholds 30,50,70] [--json]

  --scoring FILE       the scoring file to replay (default: BATON_SCORING_FILE, or scoring.yaml beside the sequences)
  --thresholds LIST    comma-separated engagement thresholds (default: the file's MQL threshold and ±50%)
  --json               print the report as JSON

Uses the same database as Baton (DATABASE_URL, or the embedded one in BATON_DATA_DIR, which must
not be in use by a running Baton).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: { scoring: { type: 'string' }, thresholds: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
  });
  if (values.help || positionals.join(' ') !== 'score backtest') {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const config = loadConfig(process.env);
  const file = values.scoring ?? config.scoringFile.path;
  const parsed = parseScoringConfig(await readFile(file, 'utf8'));
  if (!parsed.ok) {
    console.error(`${file} has problems:\n${parsed.problems.map((problem) => `  - ${problem.line ? `line ${problem.line} ` : ''}${problem.path ? `${problem.path}: ` : ''}${problem.message}`).join('\n')}`);
    return 1;
  }
  const thresholds = values.thresholds ? values.thresholds.split(',').map((part) => Number(part.trim())) : defaultThresholds(parsed.config.lifecycle?.mql.engagement ?? 50);
  if (thresholds.length === 0 || thresholds.some((value) => !Number.isFinite(value) || value <= 0)) {
    console.error(`--thresholds: "${values.thresholds}" must be positive numbers separated by commas, e.g. 30,50,70`);
    return 2;
  }
  const database = await openDatabase({ url: config.databaseUrl, embeddedDir: config.dataDir, poolSize: 2 });
  try {
    await migrate(database.pool);
    const tally = createBacktestTally(parsed.config, thresholds, new Date());
    for await (const lead of leadsForBacktest(database.db)) tally.add(lead);
    const report = tally.report();
    process.stdout.write(`${values.json ? JSON.stringify(report, null, 2) : formatBacktest(report)}\n`);
    return 0;
  } finally {
    await database.close();
  }
}

function defaultThresholds(mql: number): number[] {
  return [...new Set([mql * 0.5, mql * 0.75, mql, mql * 1.25, mql * 1.5].map((value) => Math.round(value)))].filter((value) => value > 0);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) console.error(error.message);
    else console.error('baton:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
