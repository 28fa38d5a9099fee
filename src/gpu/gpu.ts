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
  // reads between lanes (src/core/config.ts). Both optional.
  const requiredFeatures = (['timestamp-query', 'subgroups'] as GPUFeatureName[]).filter((f) =>
    adapter.features.has(f),
  );
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: `engine on ${name}` });
  watch(device);
  return device;
}

/** Lanes per subgroup the broadcast kernels are written for: one SIMD batch of lavapipe (src/core/config.ts). */
export const BROADCAST_LANES = 8;

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
