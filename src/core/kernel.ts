// Kernels, declared once: a WGSL source with named bindings and named, typed parameters. The
// engine writes the WGSL header from the declaration (the bindings, the parameter struct `p`,
// shared constants from their TypeScript values, the workgroup size WG), checks every dispatch
// against it, and compiles one pipeline per device for each distinct kernel (cached by name and
// a hash of the code: lavapipe compiles at the first dispatch, so sharing matters).
import common from '../../shaders/common.wgsl';

/**
 * How an entry point sees a tensor: `read` or `read_write` storage holding an array of `f32`
 * (the default), `u32`, `vec4f`, ...; or `uniform TYPE`, a tensor read as a uniform buffer of
 * that WGSL type (on a CPU driver, a read at one constant address costs nothing there); or
 * `read_write atomic<u32>`, a u32 tensor counted into with atomicAdd. Written as 'read',
 * 'read_write u32', 'read vec4f', 'read_write atomic<u32>', 'uniform array<vec4f, 4096>'.
 */
export type BindingDecl = string;

/** A parameter's WGSL type: a scalar, a vector, or an array of vec4s (16-byte stride in a uniform). */
export type ParamType =
  | 'u32'
  | 'i32'
  | 'f32'
  | 'vec2u'
  | 'vec2f'
  | 'vec4u'
  | 'vec4f'
  | `array<vec4u, ${number}>`
  | `array<vec4f, ${number}>`;

/** A parameter's value: a number for a scalar, the components in order for a vector or array. */
export type ParamValue = number | readonly number[];

/** A constant shared by TypeScript and WGSL: a u32 (non-negative integer) or `{ f32: value }`. */
export type Constant = number | { f32: number };

export interface ModuleSpec<B extends string, P extends string> {
  /** The module's name: kernels are `module.entry` (plus a variant tag). */
  name: string;
  /** WGSL helpers and entry points; declares no bindings, no parameter struct, no shared constant. */
  source: string;
  /** Every binding any entry point of the module uses, in binding order. */
  bindings: Record<B, BindingDecl>;
  /** The parameter struct `p` (bound after the tensors); every dispatch gives each field. */
  params?: Record<P, ParamType>;
  /** WGSL text the module calls into (e.g. Philox), placed after the header. */
  libraries?: readonly string[];
  constants?: Record<string, Constant>;
  /** `enable` directives (e.g. 'subgroups'). */
  enable?: readonly string[];
  /** Global diagnostic filters, e.g. 'off, subgroup_uniformity'. */
  diagnostics?: readonly string[];
}

export interface KernelOptions<B extends string> {
  /** The bindings this entry point uses (default: all of the module's); a dispatch gives exactly these. */
  uses?: readonly B[];
  /** Invocations per workgroup, WG in the source (default 64). */
  workgroupSize?: number;
  /** Appended to the kernel's name: variants of one entry point (`_sg`). */
  tag?: string;
  /** More of the module's declaration for this kernel only (e.g. subgroups for its variant). */
  libraries?: readonly string[];
  constants?: Record<string, Constant>;
  enable?: readonly string[];
  diagnostics?: readonly string[];
}

interface Binding {
  readonly name: string;
  readonly index: number;
  readonly kind: 'read' | 'read_write' | 'uniform';
  /** The WGSL type of the variable. */
  readonly type: string;
  /** The tensor dtype it holds. */
  readonly dtype: 'f32' | 'u32';
}

interface Field {
  readonly name: string;
  readonly type: ParamType;
  readonly offset: number;
  /** Components (1 for a scalar). */
  readonly count: number;
  readonly scalar: 'u32' | 'i32' | 'f32';
}

/** A compiled-once kernel: one entry point of a module, with the bindings and parameters a dispatch gives. */
export interface KernelDef<B extends string = string, P extends string = string> {
  readonly name: string;
  readonly entry: string;
  readonly code: string;
  /** Where the module's source starts in `code` (line number, 1-based), for compile errors. */
  readonly sourceLine: number;
  readonly workgroupSize: number;
  /** The tensor bindings a dispatch gives, in binding order. */
  readonly bindings: readonly Binding[];
  readonly params: readonly Field[];
  /** Bytes of the parameter struct (0: none). */
  readonly paramBytes: number;
  /** Binding index of the parameter struct. */
  readonly paramBinding: number;
  readonly key: string;
  /** Phantom: the names a dispatch must give. */
  readonly __names?: { bindings: B; params: P };
}

const SCALARS = { u32: 'u32', i32: 'i32', f32: 'f32', vec2u: 'u32', vec2f: 'f32', vec4u: 'u32', vec4f: 'f32' } as const;

function field(name: string, type: ParamType, at: number): Field {
  const array = /^array<vec4([uf]), (\d+)>$/.exec(type);
  if (array) {
    const offset = Math.ceil(at / 16) * 16;
    return { name, type, offset, count: 4 * Number(array[2]), scalar: array[1] === 'u' ? 'u32' : 'f32' };
  }
  const scalar = SCALARS[type as keyof typeof SCALARS];
  if (!scalar)
    throw new Error(
      `parameter ${name}: type ${type} is not one of u32, i32, f32, vec2u, vec2f, vec4u, vec4f, array<vec4u, N>, array<vec4f, N>`,
    );
  const count = type.startsWith('vec2') ? 2 : type.startsWith('vec4') ? 4 : 1;
  const align = 4 * (count === 1 ? 1 : count);
  return { name, type, offset: Math.ceil(at / align) * align, count, scalar };
}

function parseBinding(name: string, decl: string, index: number): Binding {
  const [kind, ...rest] = decl.trim().split(/\s+/);
  const type = rest.join(' ');
  if (kind === 'uniform') {
    if (!type)
      throw new Error(`binding ${name}: 'uniform' needs the WGSL type of the buffer, e.g. 'uniform array<vec4f, 16>'`);
    return { name, index, kind, type, dtype: /u32|vec\du/.test(type) ? 'u32' : 'f32' };
  }
  if (kind !== 'read' && kind !== 'read_write')
    throw new Error(`binding ${name}: "${decl}" is not 'read', 'read_write' or 'uniform' with a type`);
  const element = type || 'f32';
  if (element === 'atomic<u32>') {
    if (kind !== 'read_write')
      throw new Error(`binding ${name}: atomic<u32> elements need 'read_write', not '${kind}'`);
    return { name, index, kind, type: `array<${element}>`, dtype: 'u32' };
  }
  if (!/^(f32|u32|vec[234][fu]|mat\dx\df)$/.test(element))
    throw new Error(
      `binding ${name}: element type "${element}" is not f32, u32, a vector or a matrix of them, or atomic<u32>`,
    );
  return { name, index, kind, type: `array<${element}>`, dtype: /u/.test(element) ? 'u32' : 'f32' };
}

function constantLine(name: string, v: Constant): string {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
      throw new Error(`shader constant ${name} = ${v} is not a u32 (wrap floats as { f32: v })`);
    return `const ${name}: u32 = ${v}u;`;
  }
  if (!Number.isFinite(v.f32)) throw new Error(`shader constant ${name} = ${v.f32} is not a finite f32`);
  const text = String(v.f32);
  return `const ${name}: f32 = ${/[.e]/.test(text) ? text : `${text}.0`};`;
}

/** A 53-bit hash of a string (cyrb53): the code's part of a pipeline's cache key. */
function hash(s: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

/** A module: `kernel(entry, options)` declares one of its entry points. */
export interface Module<B extends string, P extends string> {
  readonly name: string;
  kernel<const U extends B = B>(entry: string, options?: KernelOptions<U>): KernelDef<U, P>;
}

/** Every kernel declared so far, by cache key: what `node scripts/wgsl.mjs` writes out for a reader. */
const declared = new Map<string, KernelDef>();
export function declaredKernels(): KernelDef[] {
  return [...declared.values()];
}

/** Declares a WGSL module; its kernels are declared with `.kernel(entry, { uses, workgroupSize })`. */
export function shaderModule<const B extends string, const P extends string = never>(
  spec: ModuleSpec<B, P>,
): Module<B, P> {
  const names = Object.keys(spec.bindings) as B[];
  const bindings = names.map((n, i) => parseBinding(n, spec.bindings[n], i));
  const fields: Field[] = [];
  let bytes = 0;
  for (const [n, type] of Object.entries(spec.params ?? {}) as [P, ParamType][]) {
    const f = field(n, type, bytes);
    fields.push(f);
    bytes = f.offset + 4 * f.count;
  }
  const paramBytes = fields.length > 0 ? Math.ceil(bytes / 16) * 16 : 0;
  return {
    name: spec.name,
    kernel<const U extends B = B>(entry: string, o: KernelOptions<U> = {}): KernelDef<U, P> {
      const workgroupSize = o.workgroupSize ?? 64;
      if (!Number.isInteger(workgroupSize) || workgroupSize < 1)
        throw new Error(`kernel ${spec.name}.${entry}: workgroup size ${workgroupSize} is not a positive integer`);
      const uses = o.uses ?? names;
      for (const u of uses)
        if (!names.includes(u))
          throw new Error(`kernel ${spec.name}.${entry}: uses "${u}", which module ${spec.name} does not declare`);
      const constants = { ...spec.constants, ...o.constants, WG: workgroupSize };
      const header = [
        ...[...(spec.enable ?? []), ...(o.enable ?? [])].map((x) => `enable ${x};`),
        ...[...(spec.diagnostics ?? []), ...(o.diagnostics ?? [])].map((x) => `diagnostic(${x});`),
        ...Object.entries(constants).map(([n, v]) => constantLine(n, v)),
        ...bindings.map(
          (b) =>
            `@group(0) @binding(${b.index}) var${b.kind === 'uniform' ? '<uniform>' : `<storage, ${b.kind}>`} ${b.name}: ${b.type};`,
        ),
        ...(fields.length > 0
          ? [
              `struct Params { ${fields.map((f) => `${f.name}: ${f.type}`).join(', ')} }`,
              `@group(0) @binding(${bindings.length}) var<uniform> p: Params;`,
            ]
          : []),
        common,
        ...(spec.libraries ?? []),
        ...(o.libraries ?? []),
      ].join('\n');
      const code = `${header}\n${spec.source}`;
      const name = `${spec.name}.${entry}${o.tag ?? ''}`;
      const def: KernelDef<U, P> = {
        name,
        entry,
        code,
        workgroupSize,
        params: fields,
        paramBytes,
        paramBinding: bindings.length,
        sourceLine: header.split('\n').length + 1,
        bindings: bindings.filter((b) => (uses as readonly string[]).includes(b.name)),
        key: `${name}#${hash(code)}`,
      };
      declared.set(def.key, def);
      return def;
    },
  };
}

/** Writes `values` into `view` at the fields' offsets; throws naming a missing, extra or mistyped parameter. */
export function packParams(kernel: KernelDef, values: Readonly<Record<string, ParamValue>>, view: DataView): void {
  const given = new Set(Object.keys(values));
  for (const f of kernel.params) {
    if (!given.delete(f.name)) throw new Error(`kernel ${kernel.name}: parameter ${f.name} (${f.type}) is missing`);
    const v = values[f.name];
    const list = typeof v === 'number' ? [v] : v;
    if (!Array.isArray(list) || list.length !== f.count) {
      throw new Error(
        `kernel ${kernel.name}: parameter ${f.name} is ${JSON.stringify(v)}, expected ${f.count === 1 ? `a ${f.type}` : `${f.count} numbers (${f.type})`}`,
      );
    }
    list.forEach((x, i) => {
      const at = f.offset + 4 * i;
      const bad = (want: string) => new Error(`kernel ${kernel.name}: parameter ${f.name} = ${x} is not ${want}`);
      if (f.scalar === 'f32') {
        if (typeof x !== 'number' || !Number.isFinite(x)) throw bad('a finite f32');
        view.setFloat32(at, x, true);
      } else if (f.scalar === 'i32') {
        if (!Number.isInteger(x) || x < -0x80000000 || x > 0x7fffffff) throw bad('an i32');
        view.setInt32(at, x, true);
      } else {
        if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) throw bad('a u32');
        view.setUint32(at, x, true);
      }
    });
  }
  if (given.size > 0)
    throw new Error(
      `kernel ${kernel.name}: unknown parameter ${[...given].join(', ')} (it takes ${kernel.params.map((f) => f.name).join(', ') || 'none'})`,
    );
}

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const caches = new WeakMap<GPUDevice, Map<string, Promise<Compiled>>>();

function layoutEntries(kernel: KernelDef): GPUBindGroupLayoutEntry[] {
  const entries: GPUBindGroupLayoutEntry[] = kernel.bindings.map((b) => ({
    binding: b.index,
    visibility: GPUShaderStage.COMPUTE,
    buffer: { type: b.kind === 'uniform' ? 'uniform' : b.kind === 'read' ? 'read-only-storage' : 'storage' },
  }));
  if (kernel.paramBytes > 0)
    entries.push({ binding: kernel.paramBinding, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'uniform' } });
  return entries;
}

/** The pipeline of `kernel` on `device`, compiled at most once; errors name the kernel and the failing line. */
export function pipelineFor(device: GPUDevice, kernel: KernelDef): Promise<Compiled> {
  let cache = caches.get(device);
  if (!cache) caches.set(device, (cache = new Map()));
  let entry = cache.get(kernel.key);
  if (!entry) {
    entry = compile(device, kernel);
    cache.set(kernel.key, entry);
  }
  return entry;
}

/** A compile message with the failing line of the kernel's code and its place in the module's source. */
export function describeLine(kernel: KernelDef, lineNum: number, message: string): string {
  const lines = kernel.code.split('\n');
  const text = (lines[lineNum - 1] ?? '').trim();
  const where =
    lineNum >= kernel.sourceLine
      ? `source line ${lineNum - kernel.sourceLine + 1}`
      : `generated header line ${lineNum}`;
  return `${where}: ${message}\n    ${text}`;
}

async function compile(device: GPUDevice, kernel: KernelDef): Promise<Compiled> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: kernel.code, label: kernel.name });
  const layout = device.createBindGroupLayout({ label: kernel.name, entries: layoutEntries(kernel) });
  let pipeline: GPUComputePipeline | null = null;
  let failure: unknown = null;
  try {
    pipeline = await device.createComputePipelineAsync({
      label: kernel.name,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: kernel.entry },
    });
  } catch (err) {
    failure = err;
  }
  const error = await device.popErrorScope();
  if (error || failure || !pipeline) {
    const info = await module.getCompilationInfo();
    const messages = info.messages
      .filter((m) => m.type === 'error')
      .map((m) => describeLine(kernel, m.lineNum, m.message));
    const why = messages.join('\n') || error?.message || String(failure);
    throw new Error(`kernel ${kernel.name} failed to compile: ${why}`);
  }
  return { pipeline, layout };
}
