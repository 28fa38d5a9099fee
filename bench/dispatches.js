#!/usr/bin/env node
// One MNIST training step of a train-mnist preset, dispatch by dispatch: each dispatch's kernel,
// workgroups and time (timestamp queries, the median of three replays), then each kernel's total.
// How bench/README.md's per-dispatch figures (the strided input gradients, 2026-12-06) were
// taken; `--hardware` compiles the step with a hardware adapter's kernels (tiled matmul, no
// broadcasts, workgroup reductions), to see their grids on this adapter. Not a test:
//   node bench/dispatches.js [--preset cpu|full] [--hardware] [--min-ms X] [--adapter NAME]
import {
  getNodeGpu,
  loadMnist,
  createMnistTrainer,
  defaultMnistTrainOptions,
  MNIST_PRESETS,
  setKernelConfig,
} from '../dist/engine.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const preset = flag('--preset', 'cpu');
const minMs = Number(flag('--min-ms', 2));
if (!(preset in MNIST_PRESETS) || !(minMs >= 0)) {
  console.error(`--preset ${preset} --min-ms ${flag('--min-ms')}: expected cpu or full, and a number of ms >= 0`);
  process.exit(2);
}
const gpu = await getNodeGpu({ adapter: flag('--adapter', undefined) });
if (args.includes('--hardware'))
  setKernelConfig(gpu.device, { matmul: 'tiled', broadcasts: false, reductions: 'workgroup' });
const p = MNIST_PRESETS[preset];
const trainer = await createMnistTrainer(gpu.device, loadMnist('t10k'), {
  ...defaultMnistTrainOptions(p.model, 0),
  batch: p.batch,
  lr: p.lr,
});
await trainer.train(2); // compiles the pipelines
const runs = [];
for (let r = 0; r < 3; r++) runs.push((await trainer.program.profile()).map((q) => q.us));
const ms = runs[0].map((_, k) => runs.map((u) => u[k]).sort((a, b) => a - b)[1] / 1000);
const info = trainer.program.info;
console.log(`MNIST ${preset} training step, ${gpu.adapterName}: ${info.length} dispatches`);
console.log('| # | kernel | workgroups | ms |\n| --- | --- | --- | --- |');
info.forEach((d, i) => {
  if (ms[i] >= minMs) console.log(`| ${i} | ${d.kernel} | ${d.workgroups.join('x')} | ${ms[i].toFixed(1)} |`);
});
const by = new Map();
info.forEach((d, i) => by.set(d.kernel, (by.get(d.kernel) ?? 0) + ms[i]));
console.log('\n| kernel | ms per step |\n| --- | --- |');
for (const [k, v] of [...by].sort((a, b) => b[1] - a[1])) console.log(`| ${k} | ${v.toFixed(1)} |`);
console.log(`\ntotal ${ms.reduce((a, b) => a + b, 0).toFixed(1)} ms`);
trainer.destroy();
process.exit(0);
