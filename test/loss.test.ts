import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { crossEntropy, regressionLoss, weightedSum, type LossKind } from '../src/core/ops/loss.js';
import { assertClose, dot, finiteDifference, randomInts, randomValues, runGraph } from './harness.js';
import { testGpu } from './device.js';
import { crossEntropyRef, regressionLossRef } from './reference.js';

// Tolerances. The loss is a fixed-order f32 sum of up to a few thousand terms of size <~ 4:
// atol 1e-6 + rtol 2e-6 against float64. The gradient is one f32 expression per element
// (1/n times d, sign d, or softmax - onehot): atol 1e-7 + rtol 1e-5 against central
// differences of the float64 reference (h = 1e-5, scaled to each loss's size).
const VALUE = [1e-6, 2e-6] as const;
const GRAD = [1e-7, 1e-5] as const;

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
  const pred = randomValues(n, seed), target = randomValues(n, seed + 1);
  for (let i = 0; i < n; i++) if (Math.abs(pred[i] - target[i]) < 1e-3) target[i] += 0.01;
  return { pred, target };
}

for (const { kind, n, delta } of cases) {
  const what = `${kind}${delta === undefined ? '' : ` (delta ${delta})`} over ${n} elements`;
  t(`${what}: loss and gradient match PyTorch's mean-reduced loss in float64`, async () => {
    const { pred, target } = operands(n, 1);
    const { values, extra } = await runGraph((g) => {
      const tp = g.input('pred', [n], 'f32', { requiresGrad: true }), tt = g.input('target', [n]);
      const loss = regressionLoss(g, tp, tt, kind, { delta });
      return { feeds: [[tp, pred], [tt, target]], outputs: [loss], gradientsOf: loss };
    }, {}, (p) => [p.gradOf(p.graph.tensors.find((x) => x.name === 'pred')!)]);
    const ref = (v: Float64Array) => regressionLossRef(v, target, kind, delta);
    assertClose(values[0], [ref(pred)], VALUE[0], VALUE[1], 'loss');
    assertClose(extra[0], finiteDifference(ref, pred), GRAD[0], GRAD[1], 'grad');
  });
}

for (const [rows, classes] of [[5, 3], [300, 10], [4, 1]]) {
  t(`cross entropy over ${rows} rows of ${classes} classes: loss and gradient match PyTorch in float64`, async () => {
    const logits = randomValues(rows * classes, 3).map((v) => 4 * v);
    logits[0] = 60; // a large logit: the kernel must subtract the row maximum
    const labels = Float64Array.from(randomInts(rows, classes, 4));
    const { values, extra } = await runGraph((g) => {
      const tz = g.input('logits', [rows, classes], 'f32', { requiresGrad: true }), tl = g.input('labels', [rows]);
      const loss = crossEntropy(g, tz, tl);
      return { feeds: [[tz, logits], [tl, labels]], outputs: [loss], gradientsOf: loss };
    }, {}, (p) => [p.gradOf(p.graph.tensors.find((x) => x.name === 'logits')!)]);
    const ref = (v: Float64Array) => crossEntropyRef(v, labels, rows, classes);
    assertClose(values[0], [ref(logits)], VALUE[0], VALUE[1], 'loss');
    assertClose(extra[0], finiteDifference(ref, logits), GRAD[0], GRAD[1], 'grad');
  });
}

t('weightedSum is sum(pred * weights) and its gradient is the weights', async () => {
  const pred = randomValues(300, 5), weights = randomValues(300, 6);
  const { values, extra } = await runGraph((g) => {
    const tp = g.input('pred', [300], 'f32', { requiresGrad: true }), tw = g.input('weights', [300]);
    const loss = weightedSum(g, tp, tw);
    return { feeds: [[tp, pred], [tw, weights]], outputs: [loss], gradientsOf: loss };
  }, {}, (p) => [p.gradOf(p.graph.tensors.find((x) => x.name === 'pred')!)]);
  assertClose(values[0], [dot(pred, weights)], VALUE[0], VALUE[1], 'loss');
  assertClose(extra[0], Float64Array.from(weights, Math.fround), 0, 0, 'grad');
});

t('the loss of step s lands in loss[s % history] and leaves the other slots alone', async () => {
  const { device } = await testGpu();
  const g = new Graph('history');
  const pred = g.input('pred', [4], 'f32', { requiresGrad: true }), target = g.input('target', [4]);
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
