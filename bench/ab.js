#!/usr/bin/env node
// Two builds of the engine side by side in one process, on one device: the fused two-pixel
// training step (per-kernel timestamp medians and wall time) and fused sampling (5000 x 50 with
// guidance). How this file's side-by-side figures in bench/README.md were taken. Not a test:
//   mkdir -p builds && node scripts/build.mjs && cp dist/engine.js builds/a.js   (one version)
//   ... change the code ...
//   node scripts/build.mjs && cp dist/engine.js builds/b.js                      (the other)
//   node bench/ab.js builds/a.js builds/b.js [--rounds N] [--kernels]
// --kernels adds the blocked matmul at 1024^3 and 2048^3 and a 3x3 conv2d forward and backward
// (64 -> 64 channels, 14x14, batch 64; wall time and each conv kernel profiled), each build's own
// kernels.
// (builds/ is git-ignored; a copy outside the repository would not find the `webgpu` package.)
// Each build gets two trainers and two samplers, created in the order A B B A: in one process
// the trainer created second profiled up to 13 % faster than the first with identical code, so
// every build has one early and one late instance, and the medians pool both.
import { loadBuilds, median } from './builds.js';

const args = process.argv.slice(2);
const at = args.indexOf('--rounds');
const rounds = at >= 0 ? Number(args[at + 1]) : 8;
const kernelRows = args.includes('--kernels');
const files = args.filter((a, i) => !a.startsWith('--') && (at < 0 || i !== at + 1));
if (files.length !== 2 || !Number.isInteger(rounds) || rounds < 1) {
  console.error(
    `usage: node bench/ab.js A.js B.js [--rounds N] [--kernels]  (two builds of dist/engine.js; got ${args.join(' ') || 'nothing'}; N a positive integer)`,
  );
  process.exit(2);
}
const { builds, gpu } = await loadBuilds(files);
const fill = (n, f) => Float32Array.from({ length: n }, (_, i) => f(i));

// A compiled program and a function that runs it once and returns the milliseconds it took.
async function timed(E, build, ...args) {
  const g = new E.Graph('ab');
  const { keep, feeds, gradientsOf } = build(E, g, ...args);
  // The blocked matmul: a compile option now, a global switch in builds before 2026-12-02.
  E.setMatmulVariant?.('blocked');
  const p = await E.Program.compile(gpu.device, g, { keep, gradientsOf, config: { matmul: 'blocked' } });
  E.setMatmulVariant?.(null);
  for (const [t, data] of feeds) p.write(t, data);
  const run = async () => {
    const t0 = performance.now();
    p.run(1);
    await gpu.device.queue.onSubmittedWorkDone();
    return performance.now() - t0;
  };
  await run();
  run.program = p;
  return run;
}
const MATMULS = [1024, 2048];
function matmulGraph(E, g, n) {
  const a = g.input('a', [n, n]),
    b = g.input('b', [n, n]);
  const c = E.linear(g, a, b, null);
  return {
    keep: [c],
    feeds: [
      [a, fill(a.size, (i) => Math.sin(i))],
      [b, fill(b.size, (i) => Math.cos(i))],
    ],
  };
}
function convGraph(E, g) {
  const x = g.input('x', [64, 64, 14, 14], 'f32', { requiresGrad: true });
  const w = g.input('w', [64, 64, 3, 3], 'f32', { requiresGrad: true });
  const b = g.input('b', [64], 'f32', { requiresGrad: true });
  const y = E.conv2d(g, x, w, b, { padding: 1 });
  const up = g.input('up', y.shape);
  const loss = E.weightedSum(g, y, up);
  return {
    keep: [y],
    gradientsOf: loss,
    feeds: [
      [x, fill(x.size, Math.sin)],
      [w, fill(w.size, Math.cos)],
      [up, fill(y.size, (i) => Math.sin(0.3 * i))],
    ],
  };
}

const order = [0, 1, 1, 0];
const instances = [];
for (const b of order) {
  const E = builds[b];
  const model = E.defaultTwoPixelConfig(50);
  const trainer = await E.TwoPixelTrainer.create(gpu.device, E.defaultTrainOptions(model, 0));
  await trainer.train(50);
  const sampling = {
    model,
    schedule: 'cosine',
    n: 5000,
    labels: Array.from({ length: 5000 }, (_, i) => i % 2),
    guidance: 2,
    seed: 1,
    record: 0,
    clip: 1,
  };
  await E.sampleFused(gpu.device, trainer.program.store, sampling);
  const kernels = kernelRows
    ? { matmul: await Promise.all(MATMULS.map((n) => timed(E, matmulGraph, n))), conv: await timed(E, convGraph) }
    : null;
  instances.push({ build: b, E, trainer, sampling, kernels });
}
const kernels = [new Map(), new Map()];
const wall = [[], []];
const sample = [[], []];
const matmulMs = MATMULS.map(() => [[], []]);
const convMs = [[], []];
const convKernels = [new Map(), new Map()];
for (let r = 0; r < rounds; r++) {
  for (const { build, E, trainer, sampling, kernels: k } of instances) {
    if (k) {
      for (const [i, run] of k.matmul.entries()) matmulMs[i][build].push(await run());
      convMs[build].push(await k.conv());
      for (const d of await k.conv.program.profile()) {
        if (d.kernel.startsWith('conv2d.') || d.kernel.startsWith('conv3.'))
          convKernels[build].set(d.kernel, [...(convKernels[build].get(d.kernel) ?? []), d.us / 1000]);
      }
    }
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
console.log(
  `| training step, wall (ms, median of 50-step runs) | ${median(wall[0]).toFixed(2)} | ${median(wall[1]).toFixed(2)} |`,
);
console.log(
  `| sampling 5000 x 50 with CFG (ms, median) | ${median(sample[0]).toFixed(0)} | ${median(sample[1]).toFixed(0)} |`,
);
if (kernelRows) {
  MATMULS.forEach((n, i) => {
    const gflops = (ms) => ((2 * n ** 3) / (ms / 1000) / 1e9).toFixed(1);
    console.log(
      `| blocked matmul ${n}^3 (GFLOP/s, from the median time) | ${gflops(median(matmulMs[i][0]))} | ${gflops(median(matmulMs[i][1]))} |`,
    );
  });
  console.log(
    `| conv2d 3x3 64 -> 64, 14x14, batch 64, forward and backward (ms, median) | ${median(convMs[0]).toFixed(1)} | ${median(convMs[1]).toFixed(1)} |`,
  );
  for (const k of new Set([...convKernels[0].keys(), ...convKernels[1].keys()])) {
    const cell = (m) => (m.has(k) ? median(m.get(k)).toFixed(1) : '-');
    console.log(`| ${k} in that conv (ms, profiled, median) | ${cell(convKernels[0])} | ${cell(convKernels[1])} |`);
  }
}
const names = [...new Set([...kernels[0].keys(), ...kernels[1].keys()])];
for (const k of names) {
  const cell = (m) => (m.has(k) ? median(m.get(k)).toFixed(2) : '-');
  console.log(`| ${k} (ms per step, summed over its dispatches, median) | ${cell(kernels[0])} | ${cell(kernels[1])} |`);
}
for (const { trainer } of instances) trainer.destroy();
gpu.destroy();
process.exit(0);
