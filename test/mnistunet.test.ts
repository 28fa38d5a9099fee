// The MNIST UNet: the reference's architecture (its parameter count), training on the device
// from the uploaded dataset (the loss falls), and the guided sampler (deterministic per seed, its
// trajectory ending in the images it returns).
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { defaultMnistConfig, mnistUNet, type MnistUNetConfig } from '../src/models/mnist/unet.js';
import { createMnistTrainer, defaultMnistTrainOptions, sampleMnist } from '../src/diffusion/mnist.js';
import type { MnistSet } from '../src/data/mnist.js';
import { imageBatch } from '../src/diffusion/ops.js';
import { scheduleTable, scheduleValue, SCHEDULE_WIDTH } from '../src/diffusion/tables.js';
import { firstMnist, runGraph } from './harness.js';
import { testGpu } from './device.js';

const t = suite('MNIST UNet');

t("the UNet has the reference's 2 396 353 trainable parameters (w2_torch.py), plus 64 frozen frequencies", () => {
  const g = new Graph('count');
  const out = mnistUNet(
    g,
    g.input('x', [2, 1, 28, 28]),
    g.input('t', [2], 'u32'),
    g.input('y', [2], 'u32'),
    defaultMnistConfig(),
  );
  assert.equal(out.shape, [2, 1, 28, 28]);
  const count = (trainable: boolean) =>
    g.params.filter((p) => p.trainable === trainable).reduce((a, p) => a + p.size, 0);
  assert.is(count(true), 2396353);
  assert.is(count(false), 64);
});

// A small UNet of the same structure, so that a few training steps run in seconds on a CPU driver.
const tiny: MnistUNetConfig = { T: 20, channels: [8, 8, 16, 16], embed: 16, groups: 4, fourierScale: 30 };
let data: MnistSet | null = null;
const subset = (): MnistSet => {
  if (data) return data;
  return (data = firstMnist(512));
};

t(
  'the device batch is dataset images noised as x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps, with their labels or none',
  async () => {
    const set = subset();
    const [T, B] = [tiny.T, 64];
    const table = scheduleTable('cosine', T);
    const { values } = await runGraph((g) => {
      const images = g.input('pixels', [(set.count * 784) / 4], 'u32', { constant: true });
      const labels = g.input('labels', [set.count], 'u32', { constant: true });
      const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH], 'f32', { constant: true });
      const b = imageBatch(g, images, labels, schedule, {
        batch: B,
        T,
        pUncond: 0.25,
        noLabel: 10,
        shape: [1, 28, 28],
      });
      return {
        feeds: [
          [images, new Uint32Array(Uint8Array.from(set.bytes).buffer)],
          [labels, Uint32Array.from(set.labels)],
          [schedule, table],
        ],
        outputs: [b.x, b.eps, b.t, b.y],
      };
    });
    const [x, eps, steps, ys] = values;
    let dropped = 0;
    const seen = new Set<number>();
    for (let i = 0; i < B; i++) {
      const t = steps[i];
      assert.ok(Number.isInteger(t) && t >= 1 && t <= T, `t = ${t}`);
      const [a, s] = [scheduleValue(table, t, 'sqrt_ab'), scheduleValue(table, t, 'sqrt_1m_ab')];
      const x0 = Array.from({ length: 784 }, (_, d) => (x[i * 784 + d] - s * eps[i * 784 + d]) / a);
      // the image it came from: the dataset image nearest to the recovered x_0, within float error
      let best = -1,
        bestErr = Infinity;
      for (let k = 0; k < set.count; k++) {
        let err = 0;
        for (let d = 0; d < 784 && err < bestErr; d++) err = Math.max(err, Math.abs(x0[d] - set.images[k * 784 + d]));
        if (err < bestErr) [best, bestErr] = [k, err];
      }
      assert.ok(bestErr < 1e-4 / a, `sample ${i}: recovered x_0 is ${bestErr} from the nearest image`);
      seen.add(best);
      if (ys[i] === 10) dropped++;
      else assert.is(ys[i], set.labels[best], `sample ${i}: the label of image ${best}`);
    }
    assert.ok(seen.size > B / 2, `${seen.size} distinct images in a batch of ${B}`);
    assert.ok(dropped > 4 && dropped < 32, `${dropped} of ${B} labels dropped at p = 0.25`);
    let m = 0,
      v = 0;
    for (const e of eps) {
      m += e;
      v += e * e;
    }
    [m, v] = [m / eps.length, v / eps.length];
    assert.ok(Math.abs(m) < 0.02 && Math.abs(v - 1) < 0.03, `noise mean ${m}, variance ${v}`);
  },
);

t('training from the uploaded digits lowers the loss, and the sampler is deterministic per seed', async () => {
  const { device } = await testGpu();
  const trainer = await createMnistTrainer(device, subset(), {
    ...defaultMnistTrainOptions(tiny, 1),
    batch: 16,
    lr: 2e-3,
  });
  try {
    const losses: number[] = [];
    await trainer.train(60, (_, l) => void losses.push(...l));
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const [first, last] = [mean(losses.slice(0, 10)), mean(losses.slice(-10))];
    assert.ok(losses.every(Number.isFinite));
    assert.ok(last < 0.7 * first, `loss ${first} -> ${last}`);
    const options = { model: tiny, labels: [3, 7, 10], guidance: 2, seed: 5, record: 2, clip: 1 };
    const a = await sampleMnist(device, trainer.program.store, options);
    const b = await sampleMnist(device, trainer.program.store, options);
    assert.is(a.images.length, 3 * 784);
    assert.ok(a.images.every((v) => Number.isFinite(v)));
    assert.equal(Array.from(a.images), Array.from(b.images), 'same seed, same images');
    assert.is(a.trajectory.length, (tiny.T + 1) * 2 * 784);
    assert.equal(
      Array.from(a.trajectory.slice(tiny.T * 2 * 784)),
      Array.from(a.images.slice(0, 2 * 784)),
      'the trajectory ends in the images',
    );
    const c = await sampleMnist(device, trainer.program.store, { ...options, seed: 6 });
    assert.not.equal(Array.from(c.images), Array.from(a.images), 'another seed, other images');
  } finally {
    trainer.destroy();
  }
});

t('bad sampler labels are refused with the label named', async () => {
  const { device } = await testGpu();
  const trainer = await createMnistTrainer(device, subset(), { ...defaultMnistTrainOptions(tiny, 1), batch: 4 });
  try {
    await sampleMnist(device, trainer.program.store, {
      model: tiny,
      labels: [3, 11],
      guidance: 0,
      seed: 0,
      record: 0,
      clip: 1,
    }).then(
      () => assert.unreachable('label 11 accepted'),
      (err: Error) => assert.match(err.message, /label 11 at 1 is not a digit 0-9 or 10/),
    );
  } finally {
    trainer.destroy();
  }
});

t.run();
