#!/usr/bin/env node
// Two builds of the engine side by side in one process, on one device: the fused two-pixel
// training step (per-kernel timestamp medians and wall time) and fused sampling (5000 x 50 with
// guidance). How this file's side-by-side figures in bench/README.md were taken. Not a test:
//   mkdir -p builds && node scripts/build.mjs && cp dist/engine.js builds/a.js   (one version)
//   ... change the code ...
//   node scripts/build.mjs && cp dist/engine.js builds/b.js                      (the other)
//   node bench/ab.js builds/a.js builds/b.js [--rounds N]
// (builds/ is git-ignored; a copy outside the repository would not find the `webgpu` package.)
// Each build gets two trainers and two samplers, created in the order A B B A: in one process
// the trainer created second profiled up to 13 % faster than the first with identical code, so
// every build has one early and one late instance, and the medians pool both.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const args = process.argv.slice(2);
const at = args.indexOf('--rounds');
const rounds = at >= 0 ? Number(args[at + 1]) : 8;
const files = args.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
if (files.length !== 2 || !(rounds >= 1)) {
  console.error('usage: node bench/ab.js A.js B.js [--rounds N]  (two builds of dist/engine.js)');
  process.exit(2);
}
const builds = await Promise.all(files.map((f) => import(pathToFileURL(resolve(f)).href)));
const gpu = await builds[0].getNodeGpu({});
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];

const order = [0, 1, 1, 0];
const instances = [];
for (const b of order) {
  const E = builds[b];
  const model = E.defaultTwoPixelConfig(50);
  const trainer = await E.TwoPixelTrainer.create(gpu.device, E.defaultTrainOptions(model, 0));
  await trainer.train(50);
  const sampling = { model, schedule: 'cosine', n: 5000, labels: Array.from({ length: 5000 }, (_, i) => i % 2), guidance: 2, seed: 1, record: 0, clip: 1 };
  await E.sampleFused(gpu.device, trainer.program.store, sampling);
  instances.push({ build: b, E, trainer, sampling });
}
const kernels = [new Map(), new Map()];
const wall = [[], []];
const sample = [[], []];
for (let r = 0; r < rounds; r++) {
  for (const { build, E, trainer, sampling } of instances) {
    const step = new Map();
    for (const p of await trainer.program.profile()) step.set(p.kernel, (step.get(p.kernel) ?? 0) + p.us / 1000);
    for (const [k, ms] of step) kernels[build].set(k, [...(kernels[build].get(k) ?? []), ms]);
    let t = performance.now();
    await trainer.train(50);
    wall[build].push((performance.now() - t) / 50);
    t = performance.now();
    await E.sampleFused(gpu.device, trainer.program.store, sampling);
    sample[build].push(performance.now() - t);
  }
}
console.log(`adapter: ${gpu.adapterName}; ${rounds} rounds, two instances per build (order A B B A)\n`);
console.log(`| | A: ${files[0]} | B: ${files[1]} |\n| --- | --- | --- |`);
console.log(`| training step, wall (ms, median of 50-step runs) | ${median(wall[0]).toFixed(2)} | ${median(wall[1]).toFixed(2)} |`);
console.log(`| sampling 5000 x 50 with CFG (ms, median) | ${median(sample[0]).toFixed(0)} | ${median(sample[1]).toFixed(0)} |`);
const names = [...new Set([...kernels[0].keys(), ...kernels[1].keys()])];
for (const k of names) {
  const cell = (m) => (m.has(k) ? median(m.get(k)).toFixed(2) : '-');
  console.log(`| ${k} (ms per step, summed over its dispatches, median) | ${cell(kernels[0])} | ${cell(kernels[1])} |`);
}
for (const { trainer } of instances) trainer.destroy();
gpu.destroy();
process.exit(0);
