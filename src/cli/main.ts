// The frame every runner shares: flags checked before any work, a device, one-line errors and
// exit codes (2: bad command line, 1: the work failed), and a clean shutdown.
import { getNodeGpu } from '../gpu/node.js';
import type { Gpu } from '../gpu/gpu.js';
import { parseFlags, usage, usageLine, UsageError, type FlagSpec, type FlagValues } from './flags.js';
import { prepareFolders, removeEmptyFolders } from '../io/folders.js';
import { removeStaleTemporaries } from '../io/atomic.js';

export const COMMON_FLAGS = {
  seed: { type: 'int', default: 0, min: 0, max: 2 ** 32 - 1, help: 'seed of initialisation, training and sampling' },
  out: { type: 'string', default: '', help: 'output folder (default out/<runner>)' },
  adapter: {
    type: 'string',
    default: 'auto',
    choices: ['auto', 'hardware', 'lavapipe', 'swiftshader'],
    help: 'WebGPU adapter',
  },
} as const satisfies Record<string, FlagSpec>;

/** What a runner checks and prepares after parsing its flags, before any work. */
export interface RunOptions<V> {
  /** Checks across flags (e.g. widths that must split into groups); throws UsageError. */
  check?: (flags: V) => void;
  /**
   * The folders the run writes, by flag name (`out`, `models`): each checked and created one
   * component at a time, with stale temporary files of interrupted writes removed. A failed run
   * removes those it created that are still empty.
   */
  folders?: (flags: V) => Record<string, string>;
}

/** A runner that needs no device: flags, one-line errors and exit codes as runMain's. */
export async function runCommand<S extends Record<string, FlagSpec>>(
  program: string,
  summary: string,
  specs: S,
  body: (flags: FlagValues<S>) => Promise<void>,
  argv: readonly string[] = process.argv.slice(2),
  options: RunOptions<FlagValues<S>> = {},
): Promise<void> {
  let flags: FlagValues<S> | null;
  let created: string[] = [];
  try {
    flags = parseFlags(argv, specs);
    if (flags !== null) {
      options.check?.(flags);
      const folders = Object.entries(options.folders?.(flags) ?? {});
      try {
        created = prepareFolders(folders.map(([name, path]) => ({ what: `--${name}`, path })));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      for (const [, path] of folders) {
        for (const stale of removeStaleTemporaries(path)) {
          process.stderr.write(`note: removed ${stale}, left by a write that was interrupted\n`);
        }
      }
    }
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`error: ${err.message}\n${usageLine(program)}\n`);
    process.exitCode = 2;
    return;
  }
  if (flags === null) {
    process.stdout.write(`${usage(program, summary, specs)}\n`);
    return;
  }
  try {
    await body(flags);
  } catch (err) {
    removeEmptyFolders(created);
    process.stderr.write(`error: ${(err as Error).message ?? String(err)}\n`);
    process.exitCode = 1;
  }
}

/** A runner on a WebGPU device (--adapter picks it), released at the end. */
export function runMain<S extends Record<string, FlagSpec>>(
  program: string,
  summary: string,
  specs: S,
  body: (flags: FlagValues<S>, gpu: Gpu) => Promise<void>,
  argv: readonly string[] = process.argv.slice(2),
  options: RunOptions<FlagValues<S>> = {},
): Promise<void> {
  return runCommand(
    program,
    summary,
    specs,
    async (flags) => {
      const gpu = await getNodeGpu({ adapter: (flags as Record<string, unknown>).adapter as string | undefined });
      try {
        await body(flags, gpu);
      } finally {
        gpu.destroy();
      }
    },
    argv,
    options,
  );
}
