#!/usr/bin/env node
/*
 * `npm start`'s build step: compiles src/ to dist/ only when a source changed since the last
 * build, so a restart with unchanged sources goes straight to starting Baton (a full tsc run
 * took 21 of 30 s of a restart on a quiet machine, 94 of 105 s under load). When something did
 * change, tsc builds incrementally from dist/.tsbuildinfo (tsconfig.build.json).
 *
 * "Changed" means: a file or directory under src/ (a deletion changes its directory), the
 * tsconfig files or package.json is newer than the build's stamp. Plain JavaScript, so it runs
 * before anything is compiled. `npm run build` still compiles unconditionally.
 *
 *   node scripts/build-if-changed.mjs [--quiet] [--force]   # --quiet: say nothing when up to date
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STAMP = path.join(ROOT, 'dist', '.build-stamp');
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** The newest modification time under `file` (itself included), in ms. */
function newest(file) {
  const stat = statSync(file);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(file)) latest = Math.max(latest, newest(path.join(file, entry)));
  return latest;
}

function stampTime() {
  try {
    return statSync(STAMP).mtimeMs;
  } catch {
    return null;
  }
}

const started = Date.now();
const built = stampTime();
const sources = Math.max(...INPUTS.map((input) => newest(path.join(ROOT, input))));
const flags = new Set(process.argv.slice(2));
if (built !== null && built >= sources && !flags.has('--force')) {
  if (!flags.has('--quiet')) process.stderr.write(`build: dist/ is up to date with src/ (checked in ${Date.now() - started} ms)\n`);
  process.exit(0);
}

// The stamp's time is taken before compiling: a source saved during the build makes the next start build again.
const before = new Date();
const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
writeFileSync(STAMP, `${before.toISOString()}\n`);
utimesSync(STAMP, before, before);
process.stderr.write(`build: compiled src/ in ${Date.now() - started} ms\n`);
