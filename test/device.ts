// One device for the whole test run: pipelines compile once (lavapipe compiles at first
// dispatch, which is slow), and every suite reuses them.
import { getNodeGpu } from '../src/gpu/node.js';
import type { Gpu } from '../src/gpu/gpu.js';

let pending: Promise<Gpu> | null = null;
let gpu: Gpu | null = null;

export function testGpu(): Promise<Gpu> {
  pending ??= getNodeGpu({ quiet: true }).then((g) => {
    if (g.adapterName === '' || g.adapterName.includes('null')) {
      throw new Error(`tests need a real adapter, got "${g.adapterName}"`);
    }
    console.log(`  adapter: ${g.adapterName} (${g.kind})`);
    gpu = g;
    return g;
  });
  return pending;
}

export function releaseTestDevice(): void {
  gpu?.destroy();
  gpu = null;
  pending = null;
}
