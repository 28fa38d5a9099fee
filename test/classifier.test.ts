// Classifier guidance: the classifier's input gradient is the graph's backward pass taken to the
// input, and with scale 0 the guided sampler is exactly the unconditional sampler.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testGpu } from './device.js';
import { Graph } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { crossEntropy } from '../src/core/ops/loss.js';
import { twoPixelClassifier } from '../src/nn/classifier.js';
import { createClassifierTrainer, sampleClassifierGuided } from '../src/diffusion/classifier.js';
import { TwoPixelTrainer, defaultTrainOptions, sampleOpByOp } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';
import { assertClose, randomValues } from './harness.js';

const t = suite('classifier guidance');

t('the gradient of the cross-entropy with respect to the input matches finite differences', async () => {
  const gpu = await testGpu();
  const B = 6,
    T = 10;
  const xs = randomValues(B * 2, 41);
  const steps = Uint32Array.from({ length: B }, (_, i) => 1 + (i % T));
  const labels = Uint32Array.from({ length: B }, (_, i) => i % 2);
  const g = new Graph('clf grad');
  const x = g.input('x', [B, 2], 'f32', { requiresGrad: true });
  const tt = g.input('t', [B], 'u32');
  const y = g.input('y', [B], 'u32');
  const loss = crossEntropy(g, twoPixelClassifier(g, x, tt, T), y);
  const p = await Program.compile(gpu.device, g, { seed: 3, gradientsOf: loss });
  const evaluate = async (v: ArrayLike<number>) => {
    p.write(x, v);
    p.write(tt, steps);
    p.write(y, labels);
    p.setSeed(3);
    p.run(1);
    return { loss: (await p.readF32(loss))[0], grad: await p.readF32(p.gradOf(x)) };
  };
  const { grad } = await evaluate(xs);
  const h = 1e-2;
  const fd = new Float64Array(xs.length);
  for (let i = 0; i < xs.length; i++) {
    const up = Float64Array.from(xs);
    up[i] += h;
    const down = Float64Array.from(xs);
    down[i] -= h;
    fd[i] = ((await evaluate(up)).loss - (await evaluate(down)).loss) / (2 * h);
  }
  // f32 losses differenced at h = 1e-2: about 1e-5 absolute noise, plus O(h^2) curvature.
  assertClose(grad, fd, 3e-4, 2e-2, 'd cross-entropy / d x');
  p.destroy();
  p.store.destroy();
});

t('with scale 0 the classifier-guided sampler is the unconditional op-by-op sampler', async () => {
  const gpu = await testGpu();
  const model = defaultTwoPixelConfig(5);
  const unet = await TwoPixelTrainer.create(gpu.device, { ...defaultTrainOptions(model, 8), batch: 64 });
  await unet.train(100);
  const clf = await createClassifierTrainer(gpu.device, { T: 5, batch: 64, lr: 1e-3, steps: 100, seed: 2 });
  await clf.train(100);
  const o = { model, n: 16, seed: 6, record: 2 };
  const guided = await sampleClassifierGuided(gpu.device, unet.program.store, clf.program.store, {
    ...o,
    labels: 1,
    scale: 0,
  });
  const plain = await sampleOpByOp(gpu.device, unet.program.store, {
    ...o,
    schedule: 'cosine',
    labels: null,
    guidance: null,
    variance: 'beta',
  });
  assertClose(guided.samples, plain.samples, 1e-5, 1e-5, 'samples');
  assertClose(guided.trajectory, plain.trajectory, 1e-5, 1e-5, 'trajectory');
  const pushed = await sampleClassifierGuided(gpu.device, unet.program.store, clf.program.store, {
    ...o,
    labels: 1,
    scale: 5,
  });
  assert.ok(
    pushed.samples.some((v, i) => Math.abs(v - plain.samples[i]) > 1e-3),
    'a non-zero scale changes the samples',
  );
  unet.destroy();
  clf.destroy();
});

t.run();
