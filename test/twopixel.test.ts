import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testGpu } from './device.js';
import { TwoPixelTrainer, defaultTrainOptions, sampleOpByOp } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/nn/twopixel.js';

const t = suite('two-pixel');

t('training lowers the loss and sampling yields finite samples', async () => {
  const gpu = await testGpu();
  const model = defaultTwoPixelConfig(10);
  const trainer = await TwoPixelTrainer.create(gpu.device, { ...defaultTrainOptions(model, 1), batch: 256 });
  const all: number[] = [];
  const t0 = Date.now();
  await trainer.train(300, (_s, l) => { all.push(...l); });
  console.log('train ms', Date.now() - t0, all.slice(0, 3), all.slice(-3));
  assert.ok(all[all.length - 1] < all[0]);
  const t1 = Date.now();
  const r = await sampleOpByOp(gpu.device, trainer.program.store, { model, schedule: 'cosine', n: 500, labels: null, guidance: null, seed: 3, record: 2 });
  console.log('sample ms', Date.now() - t1, r.samples.slice(0, 6), r.trajectory.length);
  assert.ok(r.samples.every(Number.isFinite));
  trainer.destroy();
});

t.run();
