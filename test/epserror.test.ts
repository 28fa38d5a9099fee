// The learning error per step (epsErrorByT): the learned eps against the mixture's exact eps on
// the same x_t. A short training run must bring it below a bound that a model with its time
// embedding zeroed (so it cannot tell one t from another) fails.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testGpu } from './device.js';
import { defaultTrainOptions, epsErrorByT, TwoPixelTrainer } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';

const t = suite('learned eps against the exact eps');
const model = defaultTwoPixelConfig(10);
const probe = { model, schedule: 'cosine' as const, n: 1024, seed: 3 };
const STEPS = 1000;
/**
 * Largest per-t RMS error allowed after STEPS steps. Measured on lavapipe, 2026-12-02: trained 0.04-0.17
 * (largest at t = 2), untrained 2.2-3.4, the trained model with its time embedding zeroed 0.90-1.36.
 */
const BOUND = 0.5;

t('a short training run learns eps at every t; zeroing its time embedding breaks it', async () => {
  const gpu = await testGpu();
  const trainer = await TwoPixelTrainer.create(gpu.device, { ...defaultTrainOptions(model, 6), batch: 1024 });
  const untrained = await epsErrorByT(gpu.device, trainer.program.store, probe);
  await trainer.train(STEPS);
  const store = trainer.program.store.clone('params');
  trainer.destroy();
  try {
    const err = await epsErrorByT(gpu.device, store, probe);
    assert.is(err.length, model.T + 1);
    assert.is(err[0], 0);
    const worst = Math.max(...err.slice(1));
    const show = (e: Float64Array) => Array.from(e.slice(1), (v) => v.toFixed(3)).join(' ');
    assert.ok(worst < BOUND, `trained: per-t error ${show(err)}`);
    assert.ok(Math.max(...untrained.slice(1)) > BOUND, `untrained: ${show(untrained)}`);
    // The time embedding zeroed: the frozen Fourier frequencies set to 0, so every t looks alike.
    const slot = store.slot('time.fourier');
    gpu.device.queue.writeBuffer(store.params, slot.offset * 4, new Float32Array(slot.size));
    const broken = await epsErrorByT(gpu.device, store, probe);
    const brokenWorst = Math.max(...broken.slice(1));
    assert.ok(brokenWorst > BOUND, `time embedding zeroed: ${show(broken)}`);
    process.stderr.write(
      `eps error after ${STEPS} steps: max ${worst.toFixed(4)}; untrained ${Math.max(...untrained.slice(1)).toFixed(4)}; time embedding zeroed ${brokenWorst.toFixed(4)}\n`,
    );
  } finally {
    store.destroy();
  }
});

t.run();
