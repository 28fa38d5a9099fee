import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { crossEntropy, regressionLoss, weightedSum, type LossKind } from '../src/core/ops/loss.js';
import { assertClose, dot, finiteDifference, once, randomInts, randomValues, runGraph } from './harness.js';
import { testGpu } from './device.js';
import { crossEntropyBackward, crossEntropyRef, regressionLossBackward, regressionLossRef } from './reference.js';

// Tolerances. The loss is a fixed-order f32 sum of up to a few thousand terms of size <~ 4:
// atol 1e-6 + rtol 2e-6 against float64. The gradient is one f32 expression per element
// (1/n times d, sign d, or softmax - onehot): atol 1e-7 + rtol 1e-5 against central
// differences of the float64 reference (h = 1e-5, scaled to each loss's size), and the same
// against the analytic backward, which the kernel seeds the backward pass with (upstream 1).
// The analytic backward against its own central differences, both float64, with an upstream
// gradient other than 1 so its scaling is checked too. Roundoff of the loss over 2h
// (~1e-16 |loss| / h) measures <~ 1e-10 against gradients of size 1/n: atol 1e-9 + rtol 1e-7.
const VALUE = [1e-6, 2e-6] as const;
const GRAD = [1e-7, 1e-5] as const;
const REF = [1e-9, 1e-7] as const;
const UP = -0.7;

const t = suite('loss');

const cases: { kind: LossKind; n: number; delta?: number }[] = [
  { kind: 'mse', n: 16 },
  { kind: 'mse', n: 1000 }, // more elements than the 256 threads of the reduction
  { kind: 'l1', n: 16 },
  { kind: 'l1', n: 1000 },
  { kind: 'huber', n: 16, delta: 1 },
  { kind: 'huber', n: 1000, delta: 0.5 }, // both branches: |pred - target| spans (0, 2)
];

/** pred and target in ±[0.1, 1]; nudged so |pred - target| is never within 1e-3 of l1's kink at 0. */
function operands(n: number, seed: number): { pred: Float64Array; target: Float64Array } {
  const pred = randomValues(n, seed),
    target = randomValues(n, seed + 1);
  for (let i = 0; i < n; i++) if (Math.abs(pred[i] - target[i]) < 1e-3) target[i] += 0.01;
  return { pred, target };
}

// Each case's central differences (d loss / d input, upstream 1) are taken once and serve both
// the reference check and the GPU test: at 300 x 10 logits they cost ~0.2 s.
for (const { kind, n, delta } of cases) {
  const what = `${kind}${delta === undefined ? '' : ` (delta ${delta})`} over ${n} elements`;
  const { pred, target } = operands(n, 1);
  const ref = (v: Float64Array) => regressionLossRef(v, target, kind, delta);
  const numeric = once(() => finiteDifference(ref, pred));

  t(`${what}: the analytic reference gradient matches finite differences`, () => {
    assertClose(
      regressionLossBackward(pred, target, kind, delta, UP),
      numeric().map((v) => UP * v),
      REF[0],
      REF[1],
      'grad',
    );
  });

  t(`${what}: loss and gradient match PyTorch's mean-reduced loss in float64`, async () => {
    const { values, extra } = await runGraph(
      (g) => {
        const tp = g.input('pred', [n], 'f32', { requiresGrad: true }),
          tt = g.input('target', [n]);
        const loss = regressionLoss(g, tp, tt, kind, { delta });
        return {
          feeds: [
            [tp, pred],
            [tt, target],
          ],
          outputs: [loss],
          gradientsOf: loss,
        };
      },
      {},
      (p) => [p.gradOf(p.graph.tensors.find((x) => x.name === 'pred')!)],
    );
    assertClose(values[0], [ref(pred)], VALUE[0], VALUE[1], 'loss');
    assertClose(
      extra[0],
      regressionLossBackward(pred, target, kind, delta),
      GRAD[0],
      GRAD[1],
      'grad against the analytic reference',
    );
    assertClose(extra[0], numeric(), GRAD[0], GRAD[1], 'grad against finite differences');
  });
}

for (const [rows, classes] of [
  [5, 3],
  [300, 10],
  [4, 1],
]) {
  const what = `cross entropy over ${rows} rows of ${classes} classes`;
  const logits = randomValues(rows * classes, 3).map((v) => 4 * v);
  logits[0] = 60; // a large logit: the kernel must subtract the row maximum
  const labels = Float64Array.from(randomInts(rows, classes, 4));
  const ref = (v: Float64Array) => crossEntropyRef(v, labels, rows, classes);
  const numeric = once(() => finiteDifference(ref, logits));

  t(`${what}: the analytic reference gradient matches finite differences`, () => {
    assertClose(
      crossEntropyBackward(logits, labels, rows, classes, UP),
      numeric().map((v) => UP * v),
      REF[0],
      REF[1],
      'grad',
    );
  });

  t(`${what}: loss and gradient match PyTorch in float64`, async () => {
    const { values, extra } = await runGraph(
      (g) => {
        const tz = g.input('logits', [rows, classes], 'f32', { requiresGrad: true }),
          tl = g.input('labels', [rows], 'u32');
        const loss = crossEntropy(g, tz, tl);
        return {
          feeds: [
            [tz, logits],
            [tl, labels],
          ],
          outputs: [loss],
          gradientsOf: loss,
        };
      },
      {},
      (p) => [p.gradOf(p.graph.tensors.find((x) => x.name === 'logits')!)],
    );
    assertClose(values[0], [ref(logits)], VALUE[0], VALUE[1], 'loss');
    assertClose(
      extra[0],
      crossEntropyBackward(logits, labels, rows, classes),
      GRAD[0],
      GRAD[1],
      'grad against the analytic reference',
    );
    assertClose(extra[0], numeric(), GRAD[0], GRAD[1], 'grad against finite differences');
  });
}

t('weightedSum is sum(pred * weights) and its gradient is the weights', async () => {
  const pred = randomValues(300, 5),
    weights = randomValues(300, 6);
  const { values, extra } = await runGraph(
    (g) => {
      const tp = g.input('pred', [300], 'f32', { requiresGrad: true }),
        tw = g.input('weights', [300]);
      const loss = weightedSum(g, tp, tw);
      return {
        feeds: [
          [tp, pred],
          [tw, weights],
        ],
        outputs: [loss],
        gradientsOf: loss,
      };
    },
    {},
    (p) => [p.gradOf(p.graph.tensors.find((x) => x.name === 'pred')!)],
  );
  assertClose(values[0], [dot(pred, weights)], VALUE[0], VALUE[1], 'loss');
  assertClose(extra[0], Float64Array.from(weights, Math.fround), 0, 0, 'grad');
});

t('the loss of step s lands in loss[s % history] and leaves the other slots alone', async () => {
  const { device } = await testGpu();
  const g = new Graph('history');
  const pred = g.input('pred', [4], 'f32', { requiresGrad: true }),
    target = g.input('target', [4]);
  const loss = regressionLoss(g, pred, target, 'mse', { history: 3 });
  const program = await Program.compile(device, g, { gradientsOf: loss });
  const p = [0.5, -0.25, 1, 2];
  program.write(pred, p);
  program.fill(loss, NaN);
  const seen: number[][] = [];
  for (let step = 0; step < 4; step++) {
    program.write(target, [step, step, step, step]);
    program.run(1);
    seen.push([...(await program.readF32(loss))]);
  }
  const l = (s: number) => Math.fround(regressionLossRef(p, [s, s, s, s], 'mse'));
  assertClose(seen[0].slice(0, 1), [l(0)], 0, 2e-6, 'step 0 in slot 0');
  assert.ok(seen[0].slice(1).every(Number.isNaN), `slots 1 and 2 untouched after step 0: ${seen[0]}`);
  assert.ok(Number.isNaN(seen[1][2]), `slot 2 untouched after step 1: ${seen[1]}`);
  assertClose(seen[2], [l(0), l(1), l(2)], 0, 2e-6, 'steps 0, 1, 2');
  assertClose(seen[3], [l(3), l(1), l(2)], 0, 2e-6, 'step 3 wraps to slot 0');
  program.destroy();
});

t.run();
