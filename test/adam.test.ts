import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Tensor } from '../src/core/graph.js';
import { Program, type AdamOptions } from '../src/core/program.js';
import { linear } from '../src/core/ops/linear.js';
import { regressionLoss } from '../src/core/ops/loss.js';
import { assertClose, randomValues } from './harness.js';
import { testGpu } from './device.js';
import { adamRef, adamRefState, emaDecayRef, linearRef, type AdamRefState } from './reference.js';

// Tolerances. Gradients of linear + mse in f32 against float64: atol 1e-6 + rtol 1e-5.
// One Adam step from the same parameters and the same (GPU) gradients: the kernel forms the bias
// correction 1 - beta2^k with f32 pow, whose couple of ulps near 1 become a relative error of
// ~1e-4 in vhat at k = 1 (1 - beta2 = 1e-3 amplifies them), so the update (p_after - p_before)
// must match to atol 1e-7 (rounding of p) + rtol 2e-4. The moments to rtol 3e-5: the kernel
// forms 1 - beta2 from beta2 rounded to f32 (0.999 -> 0.99900001287), 1.3e-5 below 1e-3.
// Three steps in one submit against a float64 run with float64 gradients: atol 1e-5 (three
// updates of size lr = 0.02 at relative 1e-4, plus their effect on the gradients).
const GRAD = [1e-6, 1e-5] as const;
const UPDATE = [1e-7, 2e-4] as const;

const t = suite('adam');
const [M, K, N] = [6, 3, 2];
const x = randomValues(M * K, 1),
  target = randomValues(M * N, 2);
const w0 = randomValues(K * N, 3),
  b0 = randomValues(N, 4);

interface Model {
  program: Program;
  w: Tensor;
  b: Tensor;
  frozen: Tensor;
}

/** pred = x W + b, mse against a fixed target, trained by Adam; `frozen` is a param Adam must skip. */
async function model(adam: AdamOptions): Promise<Model> {
  const { device } = await testGpu();
  const g = new Graph('adam');
  const tx = g.input('x', [M, K]),
    tt = g.input('target', [M, N]);
  const w = g.param('w', [K, N], { kind: 'values', data: w0 });
  const b = g.param('b', [N], { kind: 'values', data: b0 });
  const frozen = g.param('frozen', [N], { kind: 'values', data: [0.5, -0.5] }, { trainable: false });
  const pred = linear(g, tx, w, b);
  const shifted = linear(
    g,
    pred,
    g.param('eye', [N, N], { kind: 'values', data: [1, 0, 0, 1] }, { trainable: false }),
    frozen,
    'shift',
  );
  const loss = regressionLoss(g, shifted, tt, 'mse');
  const program = await Program.compile(device, g, { seed: 5, train: { loss, adam } });
  program.write(tx, x);
  program.write(tt, target);
  return { program, w, b, frozen };
}

/** d mse / d (W, b) in float64 at the given parameters (the frozen shift included). */
function gradients(w: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  const pred = linearRef(x, w, b, M, K, N);
  const dpred = pred.map((p, i) => (2 * (p + [0.5, -0.5][i % N] - target[i])) / (M * N));
  const dw = new Float64Array(K * N),
    db = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      db[n] += dpred[m * N + n];
      for (let k = 0; k < K; k++) dw[k * N + n] += x[m * K + k] * dpred[m * N + n];
    }
  }
  return Float64Array.from([...dw, ...db]);
}

const readAll = async (p: Program, ts: Tensor[]) =>
  Float64Array.from((await Promise.all(ts.map((q) => p.readF32(q)))).flatMap((v) => [...v]));

/** The store's Adam moments of W and b, read through the flat whole-store tensors. */
async function moments(p: Program): Promise<{ m: Float64Array; v: Float64Array }> {
  const pick = (all: Float32Array) =>
    Float64Array.from(
      ['w', 'b'].flatMap((name) => {
        const s = p.store.slot(name);
        return [...all.subarray(s.offset, s.offset + s.size)];
      }),
    );
  return { m: pick(await p.readF32(p.store.flat.m)), v: pick(await p.readF32(p.store.flat.v)) };
}

const settings: [string, AdamOptions][] = [
  ['Adam', { lr: 0.01 }],
  ['AdamW (decoupled weight decay 0.1)', { lr: 0.01, weightDecay: 0.1 }],
  [
    'AdamW with betas (0.8, 0.99), eps 1e-3, decay 0.5',
    { lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.5 },
  ],
  [
    'Adam with 3 warm-up steps, cosine decay over 4, EMA 0.95 with its warm-up',
    { lr: 0.05, warmupSteps: 3, decaySteps: 4, ema: 0.95, emaWarmup: true },
  ],
  ['Adam with EMA 0.5, no warm-up', { lr: 0.05, ema: 0.5 }],
];

for (const [what, adam] of settings) {
  t(`${what}: each step matches the float64 reference fed the same gradients`, async () => {
    const { program, w, b, frozen } = await model(adam);
    const state: AdamRefState = adamRefState(K * N + N);
    // The EMA of the parameters the device computed (float64), so only the EMA's own arithmetic is compared.
    let ema: Float64Array | null = null;
    for (let step = 0; step < 5; step++) {
      const before = await readAll(program, [w, b]);
      program.run(1);
      const grads = await readAll(program, [program.gradOf(w), program.gradOf(b)]);
      assertClose(
        grads,
        gradients(before.subarray(0, K * N), before.subarray(K * N)),
        GRAD[0],
        GRAD[1],
        `gradients at step ${step}`,
      );
      const want = Float64Array.from(before);
      adamRef(want, grads, state, adam);
      const after = await readAll(program, [w, b]);
      const d = emaDecayRef(adam, step + 1);
      ema = (ema ?? before).map((e, i) => d * e + (1 - d) * after[i]);
      assertClose(
        after.map((p, i) => p - before[i]),
        want.map((p, i) => p - before[i]),
        UPDATE[0],
        UPDATE[1],
        `update at step ${step}`,
      );
    }
    const { m, v } = await moments(program);
    assertClose(m, state.m, 1e-9, 3e-5, 'first moment');
    assertClose(v, state.v, 1e-12, 3e-5, 'second moment');
    assertClose(await program.readF32(frozen), [0.5, -0.5], 0, 0, 'the frozen parameter');
    if (adam.ema) {
      const all = await program.readStore('ema');
      const got = Float64Array.from(
        ['w', 'b'].flatMap((name) => {
          const s = program.store.slot(name);
          return [...all.subarray(s.offset, s.offset + s.size)];
        }),
      );
      assertClose(got, ema!, 1e-7, 1e-5, 'the EMA of the parameters');
    }
    assert.is(await program.step(), 5);
    program.destroy();
    program.store.destroy();
  });
}

t('three steps in one submit follow a float64 Adam run (bias correction advances on the device)', async () => {
  const adam = { lr: 0.02, weightDecay: 0.05 };
  const { program, w, b } = await model(adam);
  program.run(3);
  const params = Float64Array.from([...w0, ...b0]);
  const state = adamRefState(params.length);
  for (let step = 0; step < 3; step++)
    adamRef(params, gradients(params.subarray(0, K * N), params.subarray(K * N)), state, adam);
  assertClose(await readAll(program, [w, b]), params, 1e-5, 0, 'parameters after 3 steps');
  program.destroy();
  program.store.destroy();
});

t.run();
