// The kernel variants a device gets, chosen in one place: computed from the device's adapter
// when a program compiles, overridable per device (tests hold the variants to each other) and
// per program.
import { adapterKind, BROADCAST_LANES } from '../gpu/gpu.js';

export type MatmulVariant = 'tiled' | 'blocked';

export interface KernelConfig {
  /**
   * 'tiled': 16x16 tiles through workgroup memory (the plain reference, and what a GPU gets);
   * 'blocked': 8x8 outputs per invocation in workgroups of one CPU SIMD batch (an order of
   * magnitude faster on CPU drivers; bench/README.md).
   */
  readonly matmul: MatmulVariant;
  /**
   * Whether kernels read a value every lane needs once per subgroup of BROADCAST_LANES and share
   * it with subgroupBroadcast: lavapipe reads an address all lanes share once per lane unless it
   * is a constant, so such reads cost eight times what they need to; a GPU reads a shared
   * address once anyway. Needs the 'subgroups' feature with subgroups of exactly 8 lanes.
   */
  readonly broadcasts: boolean;
  /**
   * How a reduction over a span of thousands of elements (GroupNorm's per (sample, group)
   * statistics and gradients) is split: 'invocation', one invocation walks the span (2 cores
   * want few, long invocations); 'workgroup', a workgroup of 256 strides over it and reduces in
   * workgroup memory (a GPU wants tens of thousands of lanes busy).
   */
  readonly reductions: 'invocation' | 'workgroup';
}

const overrides = new WeakMap<GPUDevice, Partial<KernelConfig>>();

function adapterInfo(device: GPUDevice): GPUAdapterInfo | undefined {
  return (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
}

/** What `device` supports best: blocked matmul and broadcasts on a CPU driver with subgroups of 8, tiled on a GPU. */
export function defaultKernelConfig(device: GPUDevice): KernelConfig {
  const info = adapterInfo(device);
  const hardware = !info || adapterKind(info) === 'hardware';
  const broadcasts =
    !hardware &&
    device.features.has('subgroups') &&
    info.subgroupMinSize === BROADCAST_LANES &&
    info.subgroupMaxSize === BROADCAST_LANES;
  return { matmul: hardware ? 'tiled' : 'blocked', broadcasts, reductions: hardware ? 'workgroup' : 'invocation' };
}

function check(c: Partial<KernelConfig>, device: GPUDevice, what: string): void {
  if (c.matmul !== undefined && c.matmul !== 'tiled' && c.matmul !== 'blocked')
    throw new Error(`${what}: matmul variant "${c.matmul}" is not one of tiled, blocked`);
  if (c.broadcasts !== undefined && typeof c.broadcasts !== 'boolean')
    throw new Error(`${what}: broadcasts ${c.broadcasts} is not a boolean`);
  if (c.broadcasts && !defaultKernelConfig(device).broadcasts)
    throw new Error(`${what}: this device has no subgroups of ${BROADCAST_LANES} lanes for broadcasts`);
  if (c.reductions !== undefined && c.reductions !== 'invocation' && c.reductions !== 'workgroup')
    throw new Error(`${what}: reductions "${c.reductions}" is not one of invocation, workgroup`);
  for (const k of Object.keys(c))
    if (k !== 'matmul' && k !== 'broadcasts' && k !== 'reductions')
      throw new Error(`${what}: unknown kernel setting "${k}" (matmul, broadcasts, reductions)`);
}

/**
 * Sets the variants programs compiled on `device` from now on get (null: back to the device's
 * defaults). Programs compiled before keep theirs.
 */
export function setKernelConfig(device: GPUDevice, config: Partial<KernelConfig> | null): void {
  if (config === null) overrides.delete(device);
  else {
    check(config, device, 'setKernelConfig');
    overrides.set(device, { ...config });
  }
}

/** The configuration a program compiled now on `device` gets, with `extra` (CompileOptions.config) on top. */
export function kernelConfig(device: GPUDevice, extra: Partial<KernelConfig> = {}): KernelConfig {
  check(extra, device, 'kernel config');
  return { ...defaultKernelConfig(device), ...overrides.get(device), ...extra };
}

/** Runs `f` with `config` set on `device`, then restores what was set before. */
export async function withKernelConfig<R>(
  device: GPUDevice,
  config: Partial<KernelConfig>,
  f: () => Promise<R>,
): Promise<R> {
  const before = overrides.get(device);
  setKernelConfig(device, { ...before, ...config });
  try {
    return await f();
  } finally {
    setKernelConfig(device, before ?? null);
  }
}
