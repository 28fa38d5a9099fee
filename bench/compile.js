#!/usr/bin/env node
// How long the fused two-pixel kernels take to compile: the first training step (its pipelines
// compile at the first dispatch on lavapipe) and the first fused sampling run, T = 50. Run it with
// Mesa's shader cache off to see a clean machine's cost (what CI pays on a cold cache):
//   MESA_SHADER_CACHE_DISABLE=true node bench/compile.js [build.js]   (default: dist/engine.js)
// A build is a copy of dist/engine.js inside the repository (see bench/ab.js).
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const file = process.argv[2] ?? 'dist/engine.js';
const E = await import(pathToFileURL(resolve(file)).href);
const gpu = await E.getNodeGpu({});
const model = E.defaultTwoPixelConfig(50);
let t0 = performance.now();
const trainer = await E.TwoPixelTrainer.create(gpu.device, E.defaultTrainOptions(model, 0));
await trainer.train(1);
const train = (performance.now() - t0) / 1000;
t0 = performance.now();
await E.sampleFused(gpu.device, trainer.program.store, {
  model,
  schedule: 'cosine',
  n: 500,
  labels: Array.from({ length: 500 }, (_, i) => i % 2),
  guidance: 2,
  seed: 1,
  record: 0,
  clip: 1,
});
const sample = (performance.now() - t0) / 1000;
console.log(
  `${file}: first training step ${train.toFixed(1)} s, first sampling run ${sample.toFixed(1)} s (shader cache ${process.env.MESA_SHADER_CACHE_DISABLE === 'true' ? 'off' : 'as configured'})`,
);
trainer.destroy();
gpu.destroy();
process.exit(0);
