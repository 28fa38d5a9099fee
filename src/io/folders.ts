// Output and model folders, checked and created one component at a time. Not
// `mkdirSync(path, { recursive: true })`: on Node 20 that never returns for a path under /proc
// (`/proc/x`), where a plain mkdir fails at once with ENOENT.
import { accessSync, constants, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A folder to make: `path` as typed, `what` names it in errors (e.g. `--out`). */
export interface FolderRequest {
  what: string;
  path: string;
}

interface FolderPlan extends FolderRequest {
  /** The missing components, outermost first. */
  missing: string[];
}

function code(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/**
 * Which components of `path` are missing, after checking that the deepest existing one is a
 * writable folder. Throws an Error naming the path and the component at fault; creates nothing.
 */
function planFolder({ what, path }: FolderRequest): FolderPlan {
  const missing: string[] = [];
  let at = resolve(path);
  for (;;) {
    let isFolder: boolean;
    try {
      isFolder = statSync(at).isDirectory();
    } catch (err) {
      const c = code(err);
      // ENOTDIR: some component above is a file; the loop reaches it and says so.
      if (c !== 'ENOENT' && c !== 'ENOTDIR') throw new Error(`${what} ${path}: cannot inspect ${at} (${c})`);
      const up = dirname(at);
      if (up === at) throw new Error(`${what} ${path}: no component of it exists`);
      missing.unshift(at);
      at = up;
      continue;
    }
    if (!isFolder) {
      throw new Error(
        at === resolve(path)
          ? `${what} ${path}: is a file, expected a folder`
          : `${what} ${path}: ${at} is a file, expected a folder`,
      );
    }
    break;
  }
  try {
    accessSync(at, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new Error(`${what} ${path}: the folder ${at} is not writable (${code(err)})`);
  }
  return { what, path, missing };
}

/**
 * Checks every folder before creating any, then creates the missing components one by one.
 * Returns the folders it created, outermost first (for removeEmptyFolders). On an error
 * (naming the flag and path) nothing it created is left.
 */
export function prepareFolders(requests: readonly FolderRequest[]): string[] {
  const plans = requests.map(planFolder);
  const created: string[] = [];
  try {
    for (const { what, path, missing } of plans) {
      for (const folder of missing) {
        try {
          mkdirSync(folder);
        } catch (err) {
          if (code(err) === 'EEXIST' && statSync(folder).isDirectory()) continue;
          throw new Error(`${what} ${path}: cannot create the folder ${folder} (${code(err)})`);
        }
        created.push(folder);
      }
    }
  } catch (err) {
    removeEmptyFolders(created);
    throw err;
  }
  return created;
}

/** Creates `path` (a folder) and its missing parents, one component at a time; errors name it. */
export function ensureFolder(path: string, what = 'folder'): void {
  prepareFolders([{ what, path }]);
}

/** Removes those of `created` (outermost first, as prepareFolders returns them) that are empty. */
export function removeEmptyFolders(created: readonly string[]): void {
  for (const folder of [...created].reverse()) {
    try {
      rmdirSync(folder);
    } catch {
      // Not empty (the run wrote something there) or already gone: either way it stays as it is.
    }
  }
}
