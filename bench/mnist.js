#!/usr/bin/env node
// The MNIST UNet of each train-mnist preset (cpu; full: SPEC section 3, 2.4M parameters) against
// the same network in PyTorch (../shared/reference/w2_torch.py at the preset's widths and batch),
// side by side: training images per second, and the time of 100 images x 200 reverse steps with
// classifier-free guidance (extrapolated from a few steps, as the reference does); then, for one
// training step and one sampling step, each kernel's share of the time (timestamp queries), the
// dispatch count and the effective GFLOP/s (PyTorch's FLOP count of the forward, 3x for a
// training step). Not a test; the full preset is slow on a CPU driver (seconds a step):
//   node bench/mnist.js [--preset cpu|full|both] [--adapter NAME] [--train-steps N] [--sample-steps N] [--no-torch] [--json FILE]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  getNodeGpu,
  loadMnist,
  createMnistTrainer,
  defaultMnistTrainOptions,
  MnistSampler,
  MNIST_PRESETS,
} from '../dist/engine.js';
import { writeFileSync } from 'node:fs';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : fallback;
};
const count = (name, fallback) => {
  const v = Number(flag(name, fallback));
  if (!(Number.isInteger(v) && v >= 1)) throw new Error(`${name} ${flag(name)}: expected a positive integer`);
  return v;
};
const trainSteps = count('--train-steps', 5);
const sampleSteps = count('--sample-steps', 5);
const gpu = await getNodeGpu({ adapter: flag('--adapter', undefined) });
const which = flag('--preset', 'both');
if (!['cpu', 'full', 'both'].includes(which)) throw new Error(`--preset ${which}: expected cpu, full or both`);
const presets = which === 'both' ? ['cpu', 'full'] : [which];
const noTorch = args.includes('--no-torch');
// Speed does not depend on which digits are drawn: the test set (what the GPU machine carries) will do.
const data = loadMnist('t10k');

function torchW2(p) {
  if (noTorch) return { why: '--no-torch' };
  const script = join(here, '..', '..', 'shared', 'reference', 'w2_torch.py');
  if (!existsSync(script) || !existsSync('/usr/bin/python3'))
    return { why: 'shared/reference/w2_torch.py or /usr/bin/python3 missing' };
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  const c = p.model;
  const r = spawnSync(
    '/usr/bin/python3',
    [
      script,
      '--runs',
      '1',
      '--train-steps',
      String(trainSteps),
      '--sample-steps',
      String(sampleSteps),
      '--channels',
      c.channels.join(','),
      '--embed',
      String(c.embed),
      '--batch',
      String(p.batch),
      '--groups',
      String(c.groups),
    ],
    { encoding: 'utf8', env },
  );
  if (r.status !== 0) return { why: `w2_torch.py failed: ${r.stderr.trim().split('\n').pop()}` };
  const res = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{')));
  return {
    imagesPerSecond: res.images_per_s.median,
    sampleSeconds: res.sample_s_extrapolated_200.median,
    flopsPerImage: res.fwd_flops_per_image,
    threads: res.threads,
  };
}

/** Per-kernel shares of one replay (the median of 3 profiles), the dispatch count and the total ms. */
async function profileOf(program) {
  const runs = [];
  for (let r = 0; r < 3; r++) runs.push((await program.profile()).map((p) => p.us));
  const med = runs[0].map((_, k) => runs.map((u) => u[k]).sort((a, b) => a - b)[1]);
  const by = new Map();
  program.info.forEach((d, k) => by.set(d.kernel, (by.get(d.kernel) ?? 0) + med[k]));
  const total = med.reduce((a, b) => a + b, 0);
  const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 6);
  return {
    dispatches: program.info.length,
    ms: total / 1000,
    shares: top.map(([k, us]) => `${k} ${((100 * us) / total).toFixed(0)}%`).join(', '),
  };
}

const results = [];
for (const name of presets) {
  const p = MNIST_PRESETS[name];
  const torch = torchW2(p);
  if (torch.why) console.error(`PyTorch reference for ${name} not run: ${torch.why}`);
  const trainer = await createMnistTrainer(gpu.device, data, {
    ...defaultMnistTrainOptions(p.model, 0),
    batch: p.batch,
    lr: p.lr,
  });
  await trainer.train(1); // compiles the pipelines
  const t0 = performance.now();
  await trainer.train(trainSteps);
  const imagesPerSecond = (p.batch * trainSteps) / ((performance.now() - t0) / 1000);
  const trainProfile = await profileOf(trainer.program);
  const labels = Array.from({ length: 100 }, (_, i) => i % 10);
  const sampler = await MnistSampler.create(
    gpu.device,
    { model: p.model, labels, guidance: 2, seed: 0, record: 0, clip: 1 },
    trainer.program.store,
  );
  sampler.step(); // compiles the pipelines
  await gpu.device.queue.onSubmittedWorkDone();
  const s0 = performance.now();
  sampler.step(sampleSteps); // one submit, as sampleMnist runs them
  await gpu.device.queue.onSubmittedWorkDone();
  const sampleSeconds = ((performance.now() - s0) / 1000 / sampleSteps) * sampler.steps;
  const sampleProfile = await profileOf(sampler.program);
  const T = sampler.steps;
  sampler.destroy();
  trainer.destroy();
  const trainGflops = torch.flopsPerImage ? (3 * torch.flopsPerImage * imagesPerSecond) / 1e9 : null;
  const sampleGflops = torch.flopsPerImage ? (torch.flopsPerImage * 2 * labels.length * T) / sampleSeconds / 1e9 : null;
  results.push({
    preset: name,
    imagesPerSecond,
    sampleSeconds,
    T,
    trainProfile,
    sampleProfile,
    trainGflops,
    sampleGflops,
    torch,
  });
}

const ratio = (a, b) => (a && b ? (a / b).toFixed(2) : '-');
const f1 = (v) => (v == null ? '-' : v.toFixed(1));
console.log(`MNIST UNet, ${gpu.adapterName}; ${new Date().toISOString()}`);
console.log('| preset | what | engine | PyTorch | ratio (>1: the engine is faster) |');
console.log('| --- | --- | --- | --- | --- |');
for (const r of results) {
  const b = MNIST_PRESETS[r.preset].batch;
  console.log(
    `| ${r.preset} | training, images/s (batch ${b}, ${trainSteps} steps; ${f1(r.trainGflops)} GFLOP/s) | ${f1(r.imagesPerSecond)} | ${f1(r.torch.imagesPerSecond)} | ${ratio(r.imagesPerSecond, r.torch.imagesPerSecond)} |`,
  );
  console.log(
    `| ${r.preset} | sampling 100 images x ${r.T} steps with guidance, s (from ${sampleSteps} steps; ${f1(r.sampleGflops)} GFLOP/s) | ${r.sampleSeconds.toFixed(1)} | ${r.torch.sampleSeconds?.toFixed(1) ?? '-'} | ${ratio(r.torch.sampleSeconds, r.sampleSeconds)} |`,
  );
}
const where = (what, q) => `${what}: ${q.dispatches} dispatches, ${q.ms.toFixed(1)} ms profiled; ${q.shares}`;
for (const r of results) {
  console.log(`\n${where(`${r.preset} training step`, r.trainProfile)}`);
  console.log(where(`${r.preset} sampling step (100 images, guided: a batch of 200)`, r.sampleProfile));
}
const json = flag('--json', null);
if (json)
  writeFileSync(
    json,
    `${JSON.stringify({ adapter: gpu.adapterName, date: new Date().toISOString(), results }, null, 2)}\n`,
  );
process.exit(0);
