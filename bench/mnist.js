#!/usr/bin/env node
// The MNIST UNet (SPEC section 3, 2.4M parameters, batch 64) against the same network in
// PyTorch (../shared/reference/w2_torch.py), side by side: training images per second, and the
// time of 100 images x 200 reverse steps with classifier-free guidance (extrapolated from a few
// steps, as the reference does). Not a test; slow on a CPU driver (a training step takes seconds):
//   node bench/mnist.js [--adapter NAME] [--train-steps N] [--sample-steps N]
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  getNodeGpu,
  loadMnist,
  createMnistTrainer,
  defaultMnistTrainOptions,
  defaultMnistConfig,
  sampleMnist,
} from '../dist/engine.js';

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
const model = defaultMnistConfig(200);

function torchW2() {
  const script = join(here, '..', '..', 'shared', 'reference', 'w2_torch.py');
  if (!existsSync(script) || !existsSync('/usr/bin/python3'))
    return { why: 'shared/reference/w2_torch.py or /usr/bin/python3 missing' };
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1' };
  delete env.OPENBLAS_CORETYPE;
  const r = spawnSync(
    '/usr/bin/python3',
    [script, '--runs', '1', '--train-steps', String(trainSteps), '--sample-steps', String(sampleSteps)],
    { encoding: 'utf8', env },
  );
  if (r.status !== 0) return { why: `w2_torch.py failed: ${r.stderr.trim().split('\n').pop()}` };
  const res = JSON.parse(r.stdout.slice(r.stdout.lastIndexOf('\n{')));
  return { imagesPerSecond: res.images_per_s.median, sampleSeconds: res.sample_s_extrapolated_200.median };
}

const torch = torchW2();
if (torch.why) console.error(`PyTorch reference not run: ${torch.why}`);

const trainer = await createMnistTrainer(gpu.device, loadMnist('train'), defaultMnistTrainOptions(model, 0));
await trainer.train(1); // compiles the pipelines
const t0 = performance.now();
await trainer.train(trainSteps);
const imagesPerSecond = (64 * trainSteps) / ((performance.now() - t0) / 1000);
const labels = Array.from({ length: 100 }, (_, i) => i % 10);
// The sampler runs all T steps; the timing stops it after the first sampleSteps + 1.
class StopSampling extends Error {}
let steps = 0;
let start = 0;
await sampleMnist(gpu.device, trainer.program.store, {
  model,
  labels,
  guidance: 2,
  seed: 0,
  record: 0,
  clip: 1,
  onStep: (s) => {
    if (s === 1) start = performance.now(); // after the first step's compiles
    steps = s;
    if (s === sampleSteps + 1) throw new StopSampling();
  },
}).catch((e) => {
  if (!(e instanceof StopSampling)) throw e;
});
const sampleSeconds = ((performance.now() - start) / 1000 / (steps - 1)) * 200;
trainer.destroy();

const ratio = (a, b) => (b ? (a / b).toFixed(2) : '-');
console.log(`| MNIST UNet (2.4M), ${gpu.adapterName} | engine | PyTorch | ratio (engine / PyTorch; >1 is better) |`);
console.log('| --- | --- | --- | --- |');
console.log(
  `| training, images/s (batch 64, ${trainSteps} steps) | ${imagesPerSecond.toFixed(1)} | ${torch.imagesPerSecond?.toFixed(1) ?? '-'} | ${ratio(imagesPerSecond, torch.imagesPerSecond)} |`,
);
console.log(
  `| sampling 100 images x 200 steps with guidance, s (from ${sampleSteps} steps) | ${sampleSeconds.toFixed(0)} | ${torch.sampleSeconds?.toFixed(0) ?? '-'} | ${ratio(torch.sampleSeconds, sampleSeconds)} |`,
);
process.exit(0);
