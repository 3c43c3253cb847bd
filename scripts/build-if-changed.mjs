#!/usr/bin/env node
/*
 * `npm start`'s build step: compiles src/ to dist/ only when a source changed since the last
 * build, so a restart with unchanged sources goes straight to starting Baton (a full tsc run
 * took 21 of 30 s of a restart on a quiet machine, 94 of 105 s under load). When something did
 * change, tsc builds incrementally from dist/.tsbuildinfo (tsconfig.build.json).
 *
 * "Changed" means: the list of files under src/, the tsconfig files and package.json, each with
 * its size and modification time, differs from the one recorded at the last build (so a file
 * added, deleted, edited, or copied in with an older time all count), or dist/ lacks its entry
 * points. Plain JavaScript, so it runs before anything is compiled. `npm run build` still
 * compiles unconditionally.
 *
 *   node scripts/build-if-changed.mjs [--quiet] [--force]   # --quiet: say nothing when up to date
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const STAMP = path.join(ROOT, 'dist', '.build-stamp');
const INPUTS = ['src', 'tsconfig.json', 'tsconfig.build.json', 'package.json'];

/** Every file under `file` with its size and modification time, one line each, in a stable order. */
function listing(file, lines = []) {
  const stat = statSync(file);
  if (!stat.isDirectory()) {
    lines.push(`${path.relative(ROOT, file)}\t${stat.size}\t${stat.mtimeMs}`);
    return lines;
  }
  for (const entry of readdirSync(file).sort()) listing(path.join(file, entry), lines);
  return lines;
}

function fingerprint() {
  const lines = INPUTS.flatMap((input) => listing(path.join(ROOT, input)));
  return createHash('sha256').update(lines.join('\n')).digest('hex');
}

function recorded() {
  try {
    return readFileSync(STAMP, 'utf8').trim();
  } catch {
    return null;
  }
}

const started = Date.now();
const flags = new Set(process.argv.slice(2));
const entryPoints = ['main.js', 'cli.js'].every((file) => existsSync(path.join(ROOT, 'dist', file)));
if (entryPoints && recorded() === fingerprint() && !flags.has('--force')) {
  if (!flags.has('--quiet')) process.stderr.write(`build: dist/ is up to date with src/ (checked in ${Date.now() - started} ms)\n`);
  process.exit(0);
}

// Taken before compiling: a source saved during the build makes the next start build again.
const before = fingerprint();
const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], {
  stdio: 'inherit',
});
if (tsc.status !== 0) process.exit(tsc.status ?? 1);
writeFileSync(STAMP, `${before}\n`);
process.stderr.write(`build: compiled src/ in ${Date.now() - started} ms\n`);
