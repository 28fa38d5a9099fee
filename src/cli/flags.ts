// Command-line flags for the runners: every flag declared with its type and range, everything
// validated before any work starts, unknown flags rejected, `--help` printing the usage.

export type FlagSpec =
  | { type: 'int'; default: number; min?: number; max?: number; multipleOf?: number; help: string }
  | { type: 'float'; default: number; min?: number; max?: number; exclusiveMin?: boolean; help: string }
  | { type: 'ints'; default: number[]; min?: number; max?: number; repeats?: boolean; help: string }
  | { type: 'floats'; default: number[]; min?: number; max?: number; help: string }
  | { type: 'string'; default: string; choices?: readonly string[]; help: string }
  | { type: 'bool'; default: boolean; help: string };

export type FlagValues<S extends Record<string, FlagSpec>> = {
  [K in keyof S]: S[K] extends { type: 'int' | 'float' }
    ? number
    : S[K] extends { type: 'ints' | 'floats' }
      ? number[]
      : S[K] extends { type: 'bool' }
        ? boolean
        : string;
};

/** A bad command line: the runner prints the message and the usage line, and exits 2. */
export class UsageError extends Error {}

// Decimal only: Number() would also take "0x10", "0b11", " 7 " and "1e3" as integers.
const INTEGER = /^-?[0-9]+$/;
const DECIMAL = /^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/;

function parseNumber(name: string, raw: string, integer: boolean): number {
  const v = (integer ? INTEGER : DECIMAL).test(raw) ? Number(raw) : NaN;
  if (integer ? !Number.isSafeInteger(v) : !Number.isFinite(v)) {
    const expected = integer ? 'an integer (decimal digits, at most 2^53-1)' : 'a number';
    throw new UsageError(`--${name} ${JSON.stringify(raw)}: expected ${expected}`);
  }
  return v;
}

function checkRange(
  name: string,
  raw: string,
  v: number,
  spec: { min?: number; max?: number; exclusiveMin?: boolean },
): void {
  if (spec.min !== undefined && (spec.exclusiveMin ? v <= spec.min : v < spec.min)) {
    throw new UsageError(`--${name} ${raw}: expected ${spec.exclusiveMin ? 'more than' : 'at least'} ${spec.min}`);
  }
  if (spec.max !== undefined && v > spec.max) throw new UsageError(`--${name} ${raw}: expected at most ${spec.max}`);
}

export function usage(program: string, summary: string, specs: Record<string, FlagSpec>): string {
  const lines = Object.entries(specs).map(([name, s]) => {
    const arg =
      s.type === 'bool'
        ? ''
        : s.type === 'ints' || s.type === 'floats'
          ? ' N,N,...'
          : s.type === 'string'
            ? s.choices
              ? ` ${s.choices.join('|')}`
              : ' TEXT'
            : ' N';
    const def =
      s.type === 'bool' || s.default === ''
        ? ''
        : ` (default ${Array.isArray(s.default) ? s.default.join(',') : s.default})`;
    return `${`  --${name}${arg}`.padEnd(33)} ${s.help}${def}`;
  });
  lines.push(`${'  --help'.padEnd(34)}print this help`);
  return `usage: node runners/${program} [flags]\n${summary}\n\n${lines.join('\n')}`;
}

export function usageLine(program: string): string {
  return `usage: node runners/${program} [flags] (--help for the list)`;
}

/** Parses argv (without node and the script); throws UsageError; returns null for --help. */
export function parseFlags<S extends Record<string, FlagSpec>>(
  argv: readonly string[],
  specs: S,
): FlagValues<S> | null {
  const out: Record<string, unknown> = {};
  for (const [name, s] of Object.entries(specs)) out[name] = Array.isArray(s.default) ? [...s.default] : s.default;
  const given = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') return null;
    if (!arg.startsWith('--')) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}: flags start with --`);
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
    if (!spec) throw new UsageError(`unknown flag --${name}`);
    const once = (raw: string) => {
      const before = given.get(name);
      const shown = (v: string) => (v === '' ? `--${name}` : `--${name} ${JSON.stringify(v)}`);
      if (before !== undefined) throw new UsageError(`${shown(before)} is given again as ${shown(raw)}: give it once`);
      given.set(name, raw);
    };
    if (spec.type === 'bool') {
      if (eq >= 0) throw new UsageError(`--${name} takes no value`);
      once('');
      out[name] = true;
      continue;
    }
    let raw: string;
    if (eq >= 0) raw = arg.slice(eq + 1);
    else {
      if (i + 1 >= argv.length || argv[i + 1].startsWith('--')) throw new UsageError(`--${name} needs a value`);
      raw = argv[++i];
    }
    once(raw);
    switch (spec.type) {
      case 'int':
      case 'float': {
        const v = parseNumber(name, raw, spec.type === 'int');
        checkRange(name, raw, v, spec);
        if (spec.type === 'int' && spec.multipleOf && v % spec.multipleOf !== 0) {
          throw new UsageError(`--${name} ${raw}: expected a multiple of ${spec.multipleOf}`);
        }
        out[name] = v;
        break;
      }
      case 'ints':
      case 'floats': {
        const parts = raw.split(',');
        const vs = parts.map((p) => parseNumber(name, p, spec.type === 'ints'));
        vs.forEach((v, k) => checkRange(name, parts[k], v, spec));
        if (!(spec.type === 'ints' && spec.repeats) && new Set(vs).size !== vs.length)
          throw new UsageError(`--${name} ${raw}: values repeat`);
        out[name] = vs;
        break;
      }
      case 'string': {
        if (spec.choices && !spec.choices.includes(raw)) {
          throw new UsageError(`--${name} ${JSON.stringify(raw)}: expected one of ${spec.choices.join(', ')}`);
        }
        if (raw === '') throw new UsageError(`--${name}: expected a non-empty value`);
        out[name] = raw;
        break;
      }
    }
  }
  return out as FlagValues<S>;
}
