#!/usr/bin/env node
// Where a fused two-pixel training step's time goes (the SPEC model, batch 1024, T = 50): per
// dispatch timestamps (Program.profile()), the median over 20 steps (a preempted dispatch now and
// then takes several times its usual time), in dispatch order, then summed per kernel; and the
// wall time of 300 steps beside them. Not a test:
//   node bench/profile.js [--adapter NAME]
import { getNodeGpu, TwoPixelTrainer, defaultTrainOptions, defaultTwoPixelConfig } from '../dist/engine.js';

const args = process.argv.slice(2);
const i = args.indexOf('--adapter');
const gpu = await getNodeGpu({ adapter: i >= 0 ? args[i + 1] : undefined });
const trainer = await TwoPixelTrainer.create(gpu.device, defaultTrainOptions(defaultTwoPixelConfig(50), 0));
await trainer.train(100);
const t0 = performance.now();
await trainer.train(300);
const wall = (performance.now() - t0) / 300;
const info = trainer.program.info;
const R = 20;
const runs = [];
for (let r = 0; r < R; r++) runs.push((await trainer.program.profile()).map((p) => p.us));
const sum = info.map((_, k) => runs.map((u) => u[k]).sort((a, b) => a - b)[R >> 1]);
const total = sum.reduce((a, b) => a + b, 0);
console.log(`adapter: ${gpu.adapterName}; ${info.length} dispatches per step`);
console.log(
  `wall time ${wall.toFixed(2)} ms per step (300 steps); profiled ${(total / 1000).toFixed(2)} ms (the dispatches' medians over ${R} steps)\n`,
);
console.log('| # | kernel | workgroups | ms |\n| --- | --- | --- | --- |');
info.forEach((d, k) =>
  console.log(`| ${k} | ${d.kernel} | ${d.workgroups.join('x')} | ${(sum[k] / 1000).toFixed(2)} |`),
);
const by = new Map();
info.forEach((d, k) => by.set(d.kernel, (by.get(d.kernel) ?? 0) + sum[k]));
console.log('\n| kernel | ms | share |\n| --- | --- | --- |');
for (const [k, us] of [...by].sort((a, b) => b[1] - a[1]))
  console.log(`| ${k} | ${(us / 1000).toFixed(2)} | ${((100 * us) / total).toFixed(0)} % |`);
trainer.destroy();
gpu.destroy();
