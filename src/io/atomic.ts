import { writeFileSync, renameSync, rmSync, openSync, fsyncSync, closeSync, readdirSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/** `.NAME.PID.MS.tmp`: the temporary file writeFileAtomic renames over NAME. */
const TEMPORARY = /^\.(.+)\.(\d+)\.(\d+)\.tmp$/;

/**
 * Writes `data` to `path` so that `path` is either the old file or the whole new one, never a
 * part: the bytes go to a temporary file in the same folder, are flushed, and then renamed over.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
}

function alive(pid: number): boolean {
  if (pid === process.pid) return false; // this process has not written yet when it cleans up
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files writeFileAtomic left in `dir` when its process was killed mid-write
 * (those of a process still running are another writer's, and stay). Returns the removed paths.
 */
export function removeStaleTemporaries(dir: string): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(dir)) {
    const m = TEMPORARY.exec(name);
    if (!m || alive(Number(m[2]))) continue;
    const path = join(dir, name);
    rmSync(path, { force: true });
    removed.push(path);
  }
  return removed;
}
