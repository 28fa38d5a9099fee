#!/usr/bin/env node
// Two builds' 3x3 'same' convs side by side in one process, by CPU time: process.cpuUsage() over
// six runs counts every thread of Dawn and lavapipe, and moves far less with other jobs' load than
// wall time does. How bench/README.md's per-shape conv figures of 2026-12-06 were taken. Not a test:
//   MODE=fwd|xgrad|wgrad|all SHAPES='32,16,28;32,32,14' node bench/conv-ab.js builds/a.js builds/b.js
// MODE: the forward alone, with the input gradient, with the weight gradient, or all three.
// SHAPES: batch, channels (in = out), side; ';' between shapes.
import { loadBuilds } from './builds.js';

const files = process.argv.slice(2);
const mode = process.env.MODE ?? 'all';
const FLOPS = { fwd: 1, xgrad: 2, wgrad: 2, all: 3 };
if (files.length < 1 || !(mode in FLOPS)) {
  console.error(
    `usage: MODE=fwd|xgrad|wgrad|all node bench/conv-ab.js A.js [B.js ...] (got MODE=${mode}, ${files.length} builds)`,
  );
  process.exit(2);
}
const shapes = (process.env.SHAPES ?? '32,16,28;32,32,14;32,32,7;64,64,14')
  .split(';')
  .map((s) => s.split(',').map(Number));
if (shapes.some((s) => s.length !== 3 || !s.every((v) => Number.isInteger(v) && v > 0))) {
  console.error(`SHAPES=${process.env.SHAPES}: expected batch,channels,side triples separated by ';'`);
  process.exit(2);
}
const { builds, gpu } = await loadBuilds(files);
const RUNS = 6;
for (const [B, C, H] of shapes) {
  const row = [];
  for (const E of builds) {
    const g = new E.Graph('conv');
    const x = g.input('x', [B, C, H, H], 'f32', { requiresGrad: mode === 'all' || mode === 'xgrad' });
    const w = g.input('w', [C, C, 3, 3], 'f32', { requiresGrad: mode === 'all' || mode === 'wgrad' });
    const b = g.input('b', [C], 'f32', { requiresGrad: mode === 'all' });
    const y = E.conv2d(g, x, w, b, { padding: 1 });
    const up = g.input('up', y.shape);
    const loss = E.weightedSum(g, y, up);
    const p = await E.Program.compile(gpu.device, g, mode === 'fwd' ? { keep: [y] } : { gradientsOf: loss, keep: [y] });
    for (const t of [x, w, b, up])
      p.write(
        t,
        Float32Array.from({ length: t.size }, (_, i) => Math.sin(i * 0.37)),
      );
    p.run(1); // compiles the pipelines
    await gpu.device.queue.onSubmittedWorkDone();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    p.run(RUNS);
    await gpu.device.queue.onSubmittedWorkDone();
    const c = process.cpuUsage(c0);
    const cpuMs = (c.user + c.system) / 1000 / RUNS;
    const flop = FLOPS[mode] * 2 * B * C * C * 9 * H * H;
    // GFLOP/s of CPU time: what the two cores would do if the work kept both busy.
    row.push(
      `${cpuMs.toFixed(1)} CPU ms (${((2 * flop) / cpuMs / 1e6).toFixed(1)} GFLOP/s on 2 cores), wall ${((performance.now() - t0) / RUNS).toFixed(0)} ms`,
    );
    p.destroy();
  }
  console.log(`${C} -> ${C}, ${H}x${H}, batch ${B}, ${mode}: ${row.join(' | ')}`);
}
process.exit(0);
