import { suite } from 'uvu';
import { add } from '../src/core/ops/elementwise.js';
import { classEmbedding, fourierFeatures } from '../src/core/ops/embed.js';
import { PhiloxStream } from '../src/core/philox.js';
import {
  assertClose,
  assertGradients,
  dot,
  finiteDifference,
  numericGradients,
  randomInts,
  randomValues,
  runGraph,
  backward,
} from './harness.js';
import { addRef, classEmbeddingBackward, classEmbeddingRef, fourierFeaturesRef } from './reference.js';

// Tolerances. Fourier features: the kernel forms the angle 2 pi w (t scale) in f32 (three
// roundings, relative error <= 3 * 2^-24) before sin/cos, so the error grows with the angle:
// atol 2e-6 + 4e-7 * max |angle|, rtol 0. The class embedding is a lookup plus one f32 add:
// atol 1e-6 + rtol 1e-6; its gradients are sums of a few f32 values: atol 1e-5 + rtol 1e-4
// against central differences of the float64 reference and against its analytic backward. That
// analytic backward against central differences (both float64, the forward linear in W and b)
// differs by roundoff only: atol 1e-8 + rtol 1e-7.
const CLASS = [1e-6, 1e-6] as const;
const BWD = [1e-5, 1e-4] as const;
const REF = [1e-8, 1e-7] as const;

const t = suite('embed');

function normals(n: number, std: number, seed: number): Float64Array {
  const rng = new PhiloxStream(seed, 0);
  return Float64Array.from({ length: n }, () => Math.fround(std * rng.normal()));
}

const fourierCases: { batch: number; half: number; std: number; maxStep: number; scale: number; what: string }[] = [
  {
    batch: 8,
    half: 128,
    std: 30,
    maxStep: 50,
    scale: 1 / 50,
    what: 'the UNet step embedding (w ~ N(0, 30^2), t/T, T = 50)',
  },
  { batch: 5, half: 3, std: 1, maxStep: 1000, scale: 1 / 1000, what: 'small angles' },
  { batch: 4, half: 16, std: 16, maxStep: 200, scale: 1 / 200, what: 'T = 200' },
];

for (const c of fourierCases) {
  t(`fourierFeatures matches [sin, cos](2 pi w t scale) for ${c.what}`, async () => {
    const w = normals(c.half, c.std, 1);
    const steps = randomInts(c.batch, c.maxStep + 1, 2);
    steps[0] = 0;
    steps[c.batch - 1] = c.maxStep;
    const { values } = await runGraph((g) => {
      const ts = g.input('t', [c.batch], 'u32'),
        tw = g.input('w', [c.half]);
      return {
        feeds: [
          [ts, steps],
          [tw, w],
        ],
        outputs: [fourierFeatures(g, ts, tw, c.scale)],
      };
    });
    const maxAngle = 2 * Math.PI * Math.max(...w.map(Math.abs)) * c.maxStep * c.scale;
    assertClose(
      values[0],
      fourierFeaturesRef(steps, w, c.scale),
      2e-6 + 4e-7 * maxAngle,
      0,
      `features (max angle ${maxAngle.toFixed(1)})`,
    );
  });
}

const classCases: [number, number, number][] = [
  [8, 3, 256],
  [6, 5, 7],
  [300, 11, 2],
];
for (const [B, rows, D] of classCases) {
  t(`classEmbedding forward matches onehot(label) W + b at B=${B} rows=${rows} D=${D}`, async () => {
    const labels = randomInts(B, rows, 3);
    labels[0] = rows - 1;
    const w = randomValues(rows * D, 4),
      b = randomValues(D, 5);
    const { values } = await runGraph((g) => {
      const tl = g.input('labels', [B], 'u32'),
        tw = g.input('w', [rows, D]),
        tb = g.input('b', [D]);
      return {
        feeds: [
          [tl, labels],
          [tw, w],
          [tb, b],
        ],
        outputs: [classEmbedding(g, tl, tw, tb)],
      };
    });
    assertClose(values[0], classEmbeddingRef(labels, w, b, rows, D), CLASS[0], CLASS[1], 'y');
  });
}

// The gradient case: repeated labels sum into their row of dW; row 3 is unused, so its gradient must be 0.
{
  const [B, rows, D] = [7, 4, 5];
  const labels = Uint32Array.from([2, 0, 2, 2, 1, 0, 2]);
  const w = randomValues(rows * D, 6),
    b = randomValues(D, 7);
  const embedRef = (wv: ArrayLike<number>, bv: ArrayLike<number>) => classEmbeddingRef(labels, wv, bv, rows, D);

  t('classEmbedding analytic reference gradients match finite differences', () => {
    const up = randomValues(B * D, 8); // the GPU test's upstream gradient
    assertGradients(
      classEmbeddingBackward(labels, up, rows, D),
      numericGradients(embedRef, [w, b], up),
      REF,
      ['dW', 'db'],
      'finite differences',
    );
  });

  t(
    'classEmbedding gradients of W and b match the analytic reference and finite differences (repeated and unused labels)',
    async () => {
      const { grads, up } = await backward(
        [
          { name: 'labels', shape: [B], values: labels, dtype: 'u32', grad: false },
          { name: 'w', shape: [rows, D], values: w },
          { name: 'b', shape: [D], values: b },
        ],
        (g, [tl, tw, tb]) => classEmbedding(g, tl, tw, tb),
        8,
      );
      assertGradients(grads, classEmbeddingBackward(labels, up, rows, D), BWD, ['dW', 'db'], 'the analytic reference');
      assertGradients(grads, numericGradients(embedRef, [w, b], up), BWD, ['dW', 'db'], 'finite differences');
    },
  );
}

t('gradients accumulate where W and b serve two class embeddings', async () => {
  const [B, rows, D] = [5, 3, 4];
  const l1 = Uint32Array.from([0, 1, 2, 1, 1]),
    l2 = Uint32Array.from([2, 2, 0, 1, 0]);
  const w = randomValues(rows * D, 9),
    b = randomValues(D, 10);
  const { grads, up } = await backward(
    [
      { name: 'l1', shape: [B], values: l1, dtype: 'u32', grad: false },
      { name: 'l2', shape: [B], values: l2, dtype: 'u32', grad: false },
      { name: 'w', shape: [rows, D], values: w },
      { name: 'b', shape: [D], values: b },
    ],
    (g, [t1, t2, tw, tb]) => add(g, classEmbedding(g, t1, tw, tb, 'embed_a'), classEmbedding(g, t2, tw, tb, 'embed_b')),
    11,
  );
  const [dwA, dbA] = classEmbeddingBackward(l1, up, rows, D),
    [dwB, dbB] = classEmbeddingBackward(l2, up, rows, D);
  assertGradients(
    grads,
    [addRef(dwA, dwB), addRef(dbA, dbB)],
    BWD,
    ['dW', 'db'],
    'the analytic reference (both lookups add)',
  );
  const f = (wv: ArrayLike<number>, bv: ArrayLike<number>) =>
    dot(addRef(classEmbeddingRef(l1, wv, bv, rows, D), classEmbeddingRef(l2, wv, bv, rows, D)), up);
  assertClose(
    grads[0],
    finiteDifference((v) => f(v, b), w),
    BWD[0],
    BWD[1],
    'dW',
  );
  assertClose(
    grads[1],
    finiteDifference((v) => f(w, v), b),
    BWD[0],
    BWD[1],
    'db',
  );
});

t.run();
