import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/*
 * MJML runs in a short-lived worker thread. The library and its dependencies take ~50 MB once
 * loaded, and Baton only needs them while templates load; when the worker ends, the memory goes
 * with it, so a long-running process does not carry MJML around.
 *
 * The worker is plain CommonJS given as source (the mjml package is CommonJS), so it runs the same
 * from compiled JS, from tsx and under Jest.
 */

export interface MjmlProblem {
  message: string;
  line: number | null;
}

export type MjmlResult = { ok: true; html: string } | { ok: false; problems: MjmlProblem[] };

export interface MjmlCompiler {
  compile(mjml: string): Promise<MjmlResult>;
  close(): Promise<void>;
}

const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createRequire } = require('node:module');
const mjml2html = createRequire(workerData.root + 'package.json')('mjml');
parentPort.on('message', async ({ id, mjml }) => {
  try {
    // Strict validation throws one error carrying every problem; mj-include stays off (path traversal).
    const result = await mjml2html(mjml, { validationLevel: 'strict', fonts: {}, keepComments: false, ignoreIncludes: true });
    parentPort.postMessage({ id, ok: true, html: result.html });
  } catch (error) {
    const list = error && Array.isArray(error.errors) ? error.errors : [error];
    const problems = list.map((entry) => ({
      message: entry && typeof entry.message === 'string' ? entry.message : String(entry),
      line: entry && typeof entry.line === 'number' ? entry.line : null,
    }));
    parentPort.postMessage({ id, ok: false, problems });
  }
});
`;

/** Changes whenever the worker (and so the compile settings) changes: part of the cache key (mjml-cache.ts). */
export const MJML_COMPILE_KEY = createHash('sha256').update(WORKER_SOURCE).digest('hex');

export function startMjmlCompiler(): MjmlCompiler {
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { root: PROJECT_ROOT } });
  const pending = new Map<number, (result: MjmlResult) => void>();
  let nextId = 1;
  let failure: Error | null = null;
  worker.on('message', (message: MjmlResult & { id: number }) => {
    const { id, ...result } = message;
    pending.get(id)?.(result);
    pending.delete(id);
  });
  worker.on('error', (error) => {
    failure = error;
    for (const resolve of pending.values()) resolve({ ok: false, problems: [{ message: `MJML worker failed: ${error.message}`, line: null }] });
    pending.clear();
  });
  return {
    compile(mjml) {
      if (failure) return Promise.resolve({ ok: false, problems: [{ message: `MJML worker failed: ${failure.message}`, line: null }] });
      const id = nextId++;
      return new Promise((resolve) => {
        pending.set(id, resolve);
        worker.postMessage({ id, mjml });
      });
    },
    async close() {
      await worker.terminate();
    },
  };
}
