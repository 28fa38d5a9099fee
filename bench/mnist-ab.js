#!/usr/bin/env node
// Two builds of the engine side by side in one process, on one device: the MNIST UNet training
// step of a train-mnist preset (wall time per step, and each kernel's time summed over its
// dispatches, from timestamp queries). How bench/README.md's side-by-side MNIST figures are
// taken; bench/ab.js does the same for the two-pixel path. Not a test:
//   mkdir -p builds && node scripts/build.mjs && cp dist/engine.js builds/a.js   (one version)
//   ... change the code ...
//   node scripts/build.mjs && cp dist/engine.js builds/b.js                      (the other)
//   node bench/mnist-ab.js builds/a.js builds/b.js [--preset cpu|full] [--rounds N] [--steps N]
// Each build gets two trainers, created in the order A B B A (bench/ab.js says why).
import { loadBuilds, median } from './builds.js';

const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const rounds = Number(flag('--rounds', 4));
const steps = Number(flag('--steps', 3));
const preset = flag('--preset', 'cpu');
const files = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
if (
  files.length !== 2 ||
  ![rounds, steps].every((n) => Number.isInteger(n) && n >= 1) ||
  !['cpu', 'full'].includes(preset)
) {
  console.error(
    `usage: node bench/mnist-ab.js A.js B.js [--preset cpu|full] [--rounds N] [--steps N] (got ${args.join(' ') || 'nothing'})`,
  );
  process.exit(2);
}
const { builds, gpu } = await loadBuilds(files);
const data = builds[0].loadMnist('t10k');

const instances = [];
for (const b of [0, 1, 1, 0]) {
  const E = builds[b];
  const p = E.MNIST_PRESETS[preset];
  const trainer = await E.createMnistTrainer(gpu.device, data, {
    ...E.defaultMnistTrainOptions(p.model, 0),
    batch: p.batch,
    lr: p.lr,
  });
  await trainer.train(1); // compiles the pipelines
  instances.push({ build: b, trainer });
}
const wall = [[], []];
// CPU time of the whole process (Dawn's and lavapipe's threads too): on a shared machine it moves
// far less with other jobs' load than wall time does.
const cpu = [[], []];
const kernels = [new Map(), new Map()];
const profiled = [[], []];
for (let r = 0; r < rounds; r++) {
  for (const { build, trainer } of instances) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    await trainer.train(steps);
    wall[build].push((performance.now() - t0) / steps);
    const c = process.cpuUsage(c0);
    cpu[build].push((c.user + c.system) / 1000 / steps);
    const step = new Map();
    let total = 0;
    for (const d of await trainer.program.profile()) {
      step.set(d.kernel, (step.get(d.kernel) ?? 0) + d.us / 1000);
      total += d.us / 1000;
    }
    profiled[build].push(total);
    for (const [k, ms] of step) kernels[build].set(k, [...(kernels[build].get(k) ?? []), ms]);
  }
}
const batch = builds[0].MNIST_PRESETS[preset].batch;
console.log(
  `adapter: ${gpu.adapterName}; MNIST ${preset} preset, batch ${batch}; ${rounds} rounds of ${steps} steps, two instances per build (A B B A)\n`,
);
console.log(`| | A: ${files[0]} | B: ${files[1]} |\n| --- | --- | --- |`);
const row = (what, f) => console.log(`| ${what} | ${f(0)} | ${f(1)} |`);
row('training step, wall (ms, median)', (b) => median(wall[b]).toFixed(0));
row('training step, CPU time of all threads (ms, median)', (b) => median(cpu[b]).toFixed(0));
row('training, images/s (from the median)', (b) => ((1000 * batch) / median(wall[b])).toFixed(1));
row('training step, profiled (ms, median)', (b) => median(profiled[b]).toFixed(0));
const names = [...new Set([...kernels[0].keys(), ...kernels[1].keys()])];
const ms = (b, k) => (kernels[b].has(k) ? median(kernels[b].get(k)) : 0);
names.sort((x, y) => Math.max(ms(0, y), ms(1, y)) - Math.max(ms(0, x), ms(1, x)));
for (const k of names.slice(0, Number(process.env.TOP ?? 16)))
  row(`${k} (ms per step, median)`, (b) => (kernels[b].has(k) ? ms(b, k).toFixed(1) : '-'));
for (const { trainer } of instances) trainer.destroy();
process.exit(0);
