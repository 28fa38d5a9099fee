// The fused two-pixel kernels against the op-by-op graph they replace: the same batch, the same
// loss and gradients; the same draws and samples.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testGpu } from './device.js';
import { Program } from '../src/core/program.js';
import {
  buildTrainingGraph,
  defaultTrainOptions,
  epsErrorByT,
  estimateGamma,
  residualGamma,
  sampleFused,
  sampleOpByOp,
  TwoPixelTrainer,
  type SampleOptions,
} from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';
import { referenceGamma, sampleOracle } from '../src/diffusion/oracle.js';
import { makeSchedule } from '../src/diffusion/schedule.js';
import { SAMPLER_ROWS } from '../src/models/twopixel/fusedgen.js';
import { assertClose, withKernels } from './harness.js';
import { ddimTimes } from '../src/diffusion/ops.js';
import { defaultKernelConfig } from '../src/core/config.js';

const t = suite('two-pixel fused kernels');
const model = defaultTwoPixelConfig(10);

async function lossAndGrads(fused: boolean, loss: 'mse' | 'l1' | 'huber', T = model.T) {
  const gpu = await testGpu();
  const o = { ...defaultTrainOptions(defaultTwoPixelConfig(T), 7), batch: 95, fused, loss }; // 95 invocations: the last group of eight lanes has one past them
  const built = buildTrainingGraph(o, 1);
  const program = await Program.compile(gpu.device, built.g, { seed: 7, gradientsOf: built.loss });
  for (const [tensor, v] of built.feeds) program.write(tensor, v);
  program.setSeed(7, 3); // a later step: a different batch than step 0
  // Poisoned: a gradient not written, or accumulated onto the last step's, comes out NaN.
  for (const p of built.g.params) if (p.trainable) program.fill(program.gradOf(p), NaN);
  program.run(1);
  const value = (await program.readF32(built.loss))[0];
  const grads = new Map<string, Float32Array>();
  for (const p of built.g.params) if (p.trainable) grads.set(p.name, await program.readF32(program.gradOf(p)));
  program.destroy();
  program.store.destroy();
  return { value, grads };
}

t(
  'the fused kernels compile with broadcasts on a device with subgroups of 8, and without when turned off',
  async () => {
    const gpu = await testGpu();
    const kernelsOf = async (plain: boolean) =>
      withKernels(plain ? { broadcasts: false } : {}, async () => {
        const built = buildTrainingGraph({ ...defaultTrainOptions(model, 1), batch: 64 }, 1);
        const program = await Program.compile(gpu.device, built.g, { seed: 1, gradientsOf: built.loss });
        const names = program.info.map((d) => d.kernel).filter((k) => k.startsWith('twopixel.train'));
        program.destroy();
        program.store.destroy();
        return names;
      });
    assert.equal(await kernelsOf(false), [
      defaultKernelConfig(gpu.device).broadcasts ? 'twopixel.train_sg' : 'twopixel.train',
    ]);
    assert.equal(await kernelsOf(true), ['twopixel.train']);
  },
);

// T = 200: the bias-table gradient's rows (T + 4) no longer fit its 32-column workgroup table,
// so it runs in narrower column blocks (shaders/bucket.wgsl). 'plain': without broadcasts.
for (const [kind, T, plain] of [
  ['mse', model.T, false],
  ['l1', model.T, false],
  ['huber', model.T, false],
  ['mse', 200, false],
  ['huber', model.T, true],
] as const) {
  t(
    `fused ${kind} loss and every parameter gradient match the op-by-op graph at T = ${T}${plain ? ' (plain kernels)' : ''}`,
    async () => {
      const ref = await lossAndGrads(false, kind, T);
      const got = await withKernels(plain ? { broadcasts: false } : {}, () => lossAndGrads(true, kind, T));
      assert.ok(
        Math.abs(got.value - ref.value) <= 1e-5 * Math.abs(ref.value) + 1e-6,
        `loss ${got.value} vs ${ref.value}`,
      );
      assert.equal([...got.grads.keys()].sort(), [...ref.grads.keys()].sort());
      for (const [name, g] of ref.grads) {
        const scale = Math.max(...g.map(Math.abs));
        assertClose(got.grads.get(name)!, g, 2e-4 * scale + 1e-7, 1e-3, `grad ${name}`);
      }
    },
  );
}

// The fused and the op-by-op sampler on the same options: the same samples and trajectories.
// 13 samples: not a multiple of the evaluations one invocation runs (fusedgen.ts EVALS).
async function expectSameSamples(trainer: TwoPixelTrainer, o: SampleOptions, plain = false) {
  const gpu = await testGpu();
  const ref = await sampleOpByOp(gpu.device, trainer.program.store, o);
  const got = await withKernels(plain ? { broadcasts: false } : {}, () =>
    sampleFused(gpu.device, trainer.program.store, o),
  );
  const what = JSON.stringify({ ...o, model: undefined, gamma: undefined, plain });
  assertClose(got.samples, ref.samples, 1e-3, 1e-3, `samples ${what}`);
  assertClose(got.trajectory, ref.trajectory, 1e-3, 1e-3, `trajectory ${what}`);
}

t(
  'two-pixel DDIM: the visited steps, x_T shared with DDPM, the last row the samples, deterministic at eta = 0',
  async () => {
    const gpu = await testGpu();
    const trainer = await TwoPixelTrainer.create(gpu.device, { ...defaultTrainOptions(model, 2), batch: 128 });
    await trainer.train(50);
    const store = trainer.program.store;
    const base = { model, schedule: 'cosine' as const, n: 13, labels: 1, guidance: 2, seed: 4, record: 13, clip: 3 };
    const ddim = { ...base, sampler: 'ddim' as const, sampleSteps: 4, eta: 0 };
    const a = await sampleFused(gpu.device, store, ddim);
    assert.equal(Array.from(a.times), Array.from(ddimTimes(model.T, 4)));
    assert.is(a.trajectory.length, 5 * 13 * 2);
    const ddpm = await sampleFused(gpu.device, store, base);
    assert.equal(
      Array.from(ddpm.times),
      Array.from({ length: model.T + 1 }, (_, s) => model.T - s),
    );
    assertClose(a.trajectory.subarray(0, 26), ddpm.trajectory.subarray(0, 26), 0, 0, 'x_T: the same draws');
    assertClose(a.trajectory.subarray(4 * 26), a.samples, 0, 0, 'the last row is x_0');
    const again = await sampleFused(gpu.device, store, ddim);
    assertClose(again.samples, a.samples, 0, 0, 'eta = 0, the same seed: the same samples');
    const other = await sampleFused(gpu.device, store, { ...ddim, seed: 5 });
    assert.ok(
      other.samples.some((v, i) => v !== a.samples[i]),
      'another seed, another x_T',
    );
    for (const v of a.samples) assert.ok(Number.isFinite(v) && Math.abs(v) < 5, `sample ${v}`);
    trainer.destroy();
  },
);

t(
  'fused sampler matches the op-by-op sampler on the same seed (no label, fixed label, guided, analytic variance; and without broadcasts)',
  async () => {
    const gpu = await testGpu();
    const trainer = await TwoPixelTrainer.create(gpu.device, { ...defaultTrainOptions(model, 2), batch: 128 });
    await trainer.train(50);
    const probe = { model, schedule: 'cosine' as const, n: 256, seed: 5 };
    const gamma = await estimateGamma(gpu.device, trainer.program.store, probe);
    assert.equal(
      gamma,
      await estimateGamma(gpu.device, trainer.program.store, probe),
      'the same seed gives the same Gamma table',
    );
    for (let step = 1; step <= model.T; step++)
      assert.ok(gamma[step] > 0 && gamma[step] < 4, `Gamma_${step} = ${gamma[step]}`);
    // For the model as it is: the exact score's reference table less the model's squared error.
    const s = makeSchedule('cosine', model.T);
    const reference = referenceGamma(s, 5);
    const residual = await residualGamma(gpu.device, trainer.program.store, probe, reference);
    const err = await epsErrorByT(gpu.device, trainer.program.store, probe);
    assert.is(residual[0], 0);
    for (let step = 1; step <= model.T; step++) {
      const want = reference[step] - err[step] ** 2;
      assert.ok(Math.abs(residual[step] - want) < 1e-12, `t=${step}: ${residual[step]} vs ${want}`);
      assert.ok(residual[step] < reference[step], `t=${step}: an imperfect model's table lies below the exact one`);
    }
    const short = await residualGamma(gpu.device, trainer.program.store, probe, reference.subarray(1)).then(
      () => 'no error',
      (e: Error) => e.message,
    );
    assert.match(short, /reference Gamma table has 10 entries, expected T \+ 1 = 11/);
    const cases = [
      { labels: null, guidance: null },
      { labels: 1, guidance: null },
      { labels: [0, 1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 0, 1], guidance: 3 },
      { labels: null, guidance: null, variance: 'analytic' as const, gamma },
      { labels: [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1], guidance: 2, clip: 0.5 },
    ];
    for (const c of cases)
      await expectSameSamples(trainer, { model, schedule: 'cosine', n: 13, seed: 11, record: 3, ...c });
    for (const c of cases.slice(1, 3))
      await expectSameSamples(trainer, { model, schedule: 'cosine', n: 13, seed: 11, record: 3, ...c }, true);
    trainer.destroy();
  },
);

t('fused sampler runs a T longer than one dispatch holds in chunks, matching the op-by-op sampler', async () => {
  const gpu = await testGpu();
  const long = defaultTwoPixelConfig(SAMPLER_ROWS + 12);
  const trainer = await TwoPixelTrainer.create(gpu.device, { ...defaultTrainOptions(long, 3), batch: 128 });
  await trainer.train(20);
  for (const c of [
    { labels: null, guidance: null },
    { labels: [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1, 1], guidance: 2, clip: 1 },
  ]) {
    await expectSameSamples(trainer, { model: long, schedule: 'cosine', n: 13, seed: 4, record: 3, ...c });
  }
  trainer.destroy();
});

t('a T whose bias-table gradient rows do not fit is refused, naming T', async () => {
  const gpu = await testGpu();
  const built = buildTrainingGraph({ ...defaultTrainOptions(defaultTwoPixelConfig(1030), 1), batch: 8 }, 1);
  let err: unknown = null;
  await Program.compile(gpu.device, built.g, { seed: 1, gradientsOf: built.loss }).catch((e) => (err = e));
  assert.match(String(err), /T = 1030 needs 1034 rows in the bias-table gradient pass, at most 1024 fit/);
});

t('training lowers the loss and the same seed gives bit-identical losses', async () => {
  const gpu = await testGpu();
  const run = async () => {
    const trainer = await TwoPixelTrainer.create(gpu.device, { ...defaultTrainOptions(model, 5), batch: 256 });
    const losses: number[] = [];
    await trainer.train(200, (_s, l) => {
      losses.push(...l);
    });
    trainer.destroy();
    return losses;
  };
  const a = await run();
  const b = await run();
  assert.equal(a, b);
  const mean = (v: number[]) => v.reduce((x, y) => x + y, 0) / v.length;
  assert.ok(mean(a.slice(-50)) < 0.7 * mean(a.slice(0, 50)), `loss ${mean(a.slice(0, 50))} -> ${mean(a.slice(-50))}`);
});

t(
  "the exact-score sampler's host path is the device sampler's: same x_T, same noise, same update and clip",
  async () => {
    // A network whose output is a constant c (every parameter 0, the output bias c) makes eps known
    // on the host: sampleOracle driven by that eps must give the device sampler's samples, which
    // holds only if both draw the same x_T and per-step noise and take the same step.
    const gpu = await testGpu();
    const T = 5;
    const cfg = defaultTwoPixelConfig(T);
    const trainer = await TwoPixelTrainer.create(gpu.device, defaultTrainOptions(cfg, 3));
    const store = trainer.program.store;
    const gamma = referenceGamma(makeSchedule('cosine', T), 3);
    try {
      for (const c of [0, 0.3]) {
        gpu.device.queue.writeBuffer(store.params, 0, new Float32Array(store.length));
        gpu.device.queue.writeBuffer(store.params, store.slot('dec2.conv.b').offset * 4, new Float32Array([c]));
        for (const clip of [0, 3]) {
          const o = {
            model: cfg,
            schedule: 'cosine' as const,
            n: 203,
            labels: null,
            guidance: null,
            seed: 11,
            record: 0,
          };
          const device = await sampleFused(gpu.device, store, { ...o, clip, variance: 'analytic', gamma });
          const host = sampleOracle(203, T, 'cosine', 'analytic', 11, gamma, { clip, eps: () => [c, c] });
          assertClose(device.samples, host, 2e-4, 1e-4, `eps = ${c}, clip ${clip}`);
        }
      }
      // at c = 0.3 the clip acts (x_0 = (x_T - 0.3) / 0.0097 at t = T), so the two settings differ
      const free = sampleOracle(203, T, 'cosine', 'analytic', 11, gamma, { eps: () => [0.3, 0.3] });
      const clipped = sampleOracle(203, T, 'cosine', 'analytic', 11, gamma, { clip: 3, eps: () => [0.3, 0.3] });
      assert.ok(Math.max(...free.map((v, i) => Math.abs(v - clipped[i]))) > 0.1, 'the clip changed nothing');
    } finally {
      trainer.destroy();
    }
  },
);

t.run();
