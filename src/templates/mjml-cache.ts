import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { MJML_COMPILE_KEY, startMjmlCompiler, type MjmlCompiler, type MjmlResult } from './mjml-worker.js';

/*
 * Compiled MJML kept on disk, by the hash of what went in: the composed MJML, the mjml package's
 * version and Baton's compile settings. A process that starts with templates it (or another
 * process on the same data directory) compiled before skips MJML, and its ~50 MB worker thread,
 * altogether: about half a second of every start. Only successful compiles are kept; a broken
 * template is compiled, and its problems reported, every time.
 */

interface CacheEntry {
  html: string;
}

const MJML_VERSION = readMjmlVersion();

/** A compiler that answers from `dir` when it can, and starts the MJML worker on the first miss. */
export function cachedMjmlCompiler(dir: string | null): MjmlCompiler {
  let worker: MjmlCompiler | null = null;
  const compiler = () => (worker ??= startMjmlCompiler());
  if (!dir || !MJML_VERSION) return { compile: (mjml) => compiler().compile(mjml), close: async () => worker?.close() };
  const fileFor = (mjml: string) => path.join(dir, `${createHash('sha256').update(`${MJML_VERSION}\n${MJML_COMPILE_KEY}\n`).update(mjml).digest('hex')}.json`);
  return {
    async compile(mjml): Promise<MjmlResult> {
      const file = fileFor(mjml);
      const cached = await readEntry(file);
      if (cached) return { ok: true, html: cached.html };
      const result = await compiler().compile(mjml);
      if (result.ok) await writeEntry(dir, file, { html: result.html });
      return result;
    },
    close: async () => worker?.close(),
  };
}

async function readEntry(file: string): Promise<CacheEntry | null> {
  try {
    const parsed: unknown = JSON.parse(await readFile(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && 'html' in parsed && typeof parsed.html === 'string' ? { html: parsed.html } : null;
  } catch {
    // Absent, unreadable or torn: compile again.
    return null;
  }
}

/** Written aside and renamed into place, so that a reader never sees half a file; a failure only costs the cache. */
async function writeEntry(dir: string, file: string, entry: CacheEntry): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
    const temporary = `${file}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(entry));
    await rename(temporary, file);
  } catch {
    // A read-only data directory: templates are compiled at every start, as without the cache.
  }
}

/** The installed mjml's version, or null (then nothing is cached: a stale entry could not be told apart). */
function readMjmlVersion(): string | null {
  try {
    const require = createRequire(import.meta.url);
    const entry = require.resolve('mjml');
    const marker = `${path.sep}node_modules${path.sep}mjml${path.sep}`;
    const root = entry.slice(0, entry.lastIndexOf(marker) + marker.length);
    const parsed: unknown = require(path.join(root, 'package.json'));
    return typeof parsed === 'object' && parsed !== null && 'version' in parsed && typeof parsed.version === 'string' ? parsed.version : null;
  } catch {
    return null;
  }
}
