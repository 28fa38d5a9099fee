import { limitsToRequest } from './limits.js';

/** What kind of adapter a device runs on; software adapters are CPUs and much slower. */
export type AdapterKind = 'hardware' | 'lavapipe' | 'swiftshader' | 'software';

/** A device ready for the engine, with a description of where it runs. */
export interface Gpu {
  readonly device: GPUDevice;
  readonly adapterName: string;
  readonly kind: AdapterKind;
  /** Destroys the device and releases the host's WebGPU instance (lets Node exit). */
  destroy(): void;
}

/** Classifies an adapter from its info: Mesa's llvmpipe, Google's SwiftShader, or real hardware. */
export function adapterKind(info: GPUAdapterInfo): AdapterKind {
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  if (text.includes('llvmpipe') || text.includes('lavapipe')) return 'lavapipe';
  if (text.includes('swiftshader')) return 'swiftshader';
  if (info.architecture === 'software' || text.includes('software')) return 'software';
  return 'hardware';
}

export function adapterName(info: GPUAdapterInfo): string {
  return info.description || info.device || `${info.vendor} ${info.architecture}`.trim() || 'unknown adapter';
}

/**
 * Requests a device with the engine's limits from `adapter`. Uncaptured errors (validation,
 * out of memory) are recorded on the returned object so that long runs can stop on them.
 */
export async function openDevice(adapter: GPUAdapter, name: string): Promise<GPUDevice> {
  const requiredLimits = limitsToRequest(adapter, name);
  // Timestamps let Program.profile() say where a step's time goes; subgroups let kernels share
  // reads between lanes (broadcasts, below). Both optional.
  const requiredFeatures = (['timestamp-query', 'subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: `engine on ${name}` });
  watch(device);
  return device;
}

/** setSubgroupBroadcasts' choice: false turns the broadcasts off, null leaves them to the device. */
let broadcastOverride: boolean | null = null;

/**
 * Turns the kernels' subgroup broadcasts off (false) or back to the device's default (null), for
 * graphs compiled from now on: tests hold the broadcast kernels to the plain ones this way.
 */
export function setSubgroupBroadcasts(on: false | null): void {
  if (on !== false && on !== null) throw new Error(`setSubgroupBroadcasts takes false or null, got ${on}`);
  broadcastOverride = on;
}

/** Lanes per subgroup the broadcast kernels are written for: one SIMD batch of lavapipe. */
export const BROADCAST_LANES = 8;

/**
 * Whether kernels on `device` may read a value once per subgroup and broadcast it
 * (subgroupBroadcast): a software adapter whose subgroups are exactly BROADCAST_LANES lanes, as
 * lavapipe's SIMD batches are. lavapipe issues a read per lane even where every lane reads one
 * address (it broadcasts only reads at constant addresses), so such reads cost eight times what
 * they need to; a GPU reads a shared address once anyway, and keeps the plain kernels, as do
 * drivers with other subgroup sizes.
 */
export function broadcasts(device: GPUDevice): boolean {
  if (broadcastOverride === false || !device.features.has('subgroups')) return false;
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info || adapterKind(info) === 'hardware') return false;
  return info.subgroupMinSize === BROADCAST_LANES && info.subgroupMaxSize === BROADCAST_LANES;
}

const failures = new WeakMap<GPUDevice, string[]>();

/** Records a device's loss and uncaptured errors (validation, out of memory) for deviceFailure(). */
function watch(device: GPUDevice): void {
  const log: string[] = [];
  failures.set(device, log);
  device.lost.then((info) => {
    log.push(`the GPU device was lost (${info.reason}${info.message ? `: ${info.message}` : ''})`);
  });
  device.addEventListener('uncapturederror', (event) => {
    const error = (event as GPUUncapturedErrorEvent).error;
    const kind = error instanceof GPUOutOfMemoryError ? 'out of GPU memory' : 'a GPU validation error';
    if (log.length < 8) log.push(`${kind}: ${error.message.split('\n')[0]}`);
  });
}

/** What went wrong with a device since it was opened, or null. */
export function deviceFailure(device: GPUDevice): string | null {
  const log = failures.get(device);
  return log && log.length > 0 ? log.join('; ') : null;
}

/** Refuses a buffer the device cannot hold, naming the limit and its value. */
export function checkBufferSize(device: GPUDevice, bytes: number, what: string, binding = true): void {
  const limits: [string, number][] = [['maxBufferSize', device.limits.maxBufferSize]];
  if (binding) limits.push(['maxStorageBufferBindingSize', device.limits.maxStorageBufferBindingSize]);
  for (const [name, limit] of limits) {
    if (bytes > limit) throw new Error(`${what} needs ${bytes} bytes, above this device's ${name} of ${limit}`);
  }
}
