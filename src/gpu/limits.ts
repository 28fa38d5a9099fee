/**
 * The limits the engine's kernels need beyond WebGPU's defaults. Requesting exactly these (and
 * no more) keeps the engine portable; a missing one is reported with the adapter's value.
 */
export const REQUIRED_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupSizeX: 256,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBufferBindingSize: 128 * 1024 * 1024,
  maxBufferSize: 256 * 1024 * 1024,
  // WebGPU's core default, stated for compatibility-mode adapters (default 16384 there), e.g.
  // Chromium's OpenGL ES adapter through ANGLE (README.md, "In the browser").
  maxUniformBufferBindingSize: 65536,
} as const;

export type LimitName = keyof typeof REQUIRED_LIMITS;

/** The limits to request from `adapter`, or an Error naming the first one it cannot meet. */
export function limitsToRequest(adapter: GPUAdapter, adapterName: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, need] of Object.entries(REQUIRED_LIMITS)) {
    const has = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof has !== 'number' || has < need) {
      throw new Error(`adapter "${adapterName}" has ${name} = ${has}, but the engine needs at least ${need}`);
    }
    out[name] = need;
  }
  return out;
}
