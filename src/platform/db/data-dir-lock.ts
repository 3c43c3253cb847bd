import { open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

/*
 * The embedded database is a directory that exactly one process may open: two PGlite instances
 * on the same files silently lose each other's writes. A lock file holding the owner's pid keeps
 * a second `npm start` out; a lock left by a process that no longer runs is taken over.
 */

export interface DataDirLock {
  release(): Promise<void>;
}

export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const file = path.join(dir, 'baton.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return { release: () => rm(file, { force: true }) };
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
      const owner = Number((await readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isRunning(owner)) {
        throw new Error(
          `another Baton process (pid ${owner}) is using the embedded database in ${dir}; stop it, or set DATABASE_URL so that several processes can share a PostgreSQL server`,
        );
      }
      await rm(file, { force: true });
    }
  }
  throw new Error(`cannot lock ${file}`);
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else, which still means it is running.
    return typeof error === 'object' && error !== null && 'code' in error && error.code === 'EPERM';
  }
}

function isAlreadyExists(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === 'EEXIST';
}
