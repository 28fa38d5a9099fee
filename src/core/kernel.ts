// The kernel registry: a kernel is a WGSL entry point with a declared binding list; its compute
// pipeline is created once per device and shared by every graph (lavapipe compiles at the first
// dispatch, so sharing matters).
import common from '../../shaders/common.wgsl';

/**
 * How a kernel uses each binding, in binding order: read-only storage, read-write storage, the
 * kernel's own uniform parameter block ('uniform'), or a tensor read as a uniform buffer
 * ('constant': on a CPU driver, reads at one address across lanes cost nothing there).
 */
export type Access = 'read' | 'write' | 'uniform' | 'constant';

export interface KernelDef {
  /** Unique name, `file.entry`. */
  readonly name: string;
  readonly code: string;
  readonly entry: string;
  /** Binding i of the entry point, or null where the entry point leaves binding i unused. */
  readonly bindings: readonly (Access | null)[];
  readonly workgroupSize: number;
}

/**
 * Declares a kernel. `code` is the shader file's text; `libraries` are prepended (e.g. Philox),
 * `directives` (`enable subgroups`) go first.
 * The last binding is always the kernel's uniform parameter block when it takes one.
 */
export function defineKernel(
  name: string,
  code: string,
  entry: string,
  bindings: readonly (Access | null)[],
  options: { workgroupSize?: number; libraries?: readonly string[]; directives?: readonly string[] } = {},
): KernelDef {
  const workgroupSize = options.workgroupSize ?? 64;
  const directives = (options.directives ?? []).map((x) => `${x};\n`).join('');
  const header = `${directives}const WG: u32 = ${workgroupSize}u;\n${common}\n${(options.libraries ?? []).join('\n')}\n`;
  return { name, code: header + code, entry, bindings, workgroupSize };
}

interface Compiled {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

const caches = new WeakMap<GPUDevice, Map<string, Promise<Compiled>>>();

function layoutEntry(binding: number, access: Access): GPUBindGroupLayoutEntry {
  const type: GPUBufferBindingType =
    access === 'uniform' || access === 'constant' ? 'uniform' : access === 'read' ? 'read-only-storage' : 'storage';
  return { binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } };
}

/** The pipeline of `kernel` on `device`, compiled at most once; errors name the kernel. */
export function pipelineFor(device: GPUDevice, kernel: KernelDef): Promise<Compiled> {
  let cache = caches.get(device);
  if (!cache) caches.set(device, (cache = new Map()));
  let entry = cache.get(kernel.name);
  if (!entry) {
    entry = compile(device, kernel);
    cache.set(kernel.name, entry);
  }
  return entry;
}

async function compile(device: GPUDevice, kernel: KernelDef): Promise<Compiled> {
  device.pushErrorScope('validation');
  const module = device.createShaderModule({ code: kernel.code, label: kernel.name });
  const layout = device.createBindGroupLayout({
    label: kernel.name,
    entries: kernel.bindings.flatMap((a, i) => (a ? [layoutEntry(i, a)] : [])),
  });
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
      .map((m) => `line ${m.lineNum}: ${m.message}`)
      .join('; ');
    const why = messages || error?.message || String(failure);
    throw new Error(`kernel ${kernel.name} failed to compile: ${why}`);
  }
  return { pipeline, layout };
}
