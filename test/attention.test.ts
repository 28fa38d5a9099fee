// Self-attention over a feature map's positions (qkv [B, 3C, N] -> [B, C, N]) against a float64
// reference, and its gradient against the reference's central differences, with either matmul.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { attention } from '../src/core/ops/attention.js';
import { add } from '../src/core/ops/elementwise.js';
import type { MatmulVariant } from '../src/core/config.js';
import {
  assertClose,
  assertGradients,
  backward,
  numericGradients,
  randomValues,
  runGraph,
  withKernels,
} from './harness.js';
import { attentionBackward, attentionRef } from './reference.js';

// Forward: dot products of C values in ±1 (scaled by 1/sqrt(C)), a softmax, then sums of N
// products of probabilities and values: atol 1e-5 + rtol 1e-5. Gradients against float64 central
// differences (h = 1e-5): atol 1e-4 + rtol 1e-4. The analytic reference backward against the
// same central differences (both float64; the h^2 term and roundoff are below 1e-9 here): atol
// 1e-8 + rtol 1e-7.
const FWD = [1e-5, 1e-5] as const;
const BWD = [1e-4, 1e-4] as const;
const REF = [1e-8, 1e-7] as const;

const t = suite('attention');

const cases: [number, number, number][] = [
  [2, 4, 5],
  [1, 8, 49],
]; // the latter: a 7x7 map
const variants: MatmulVariant[] = ['blocked', 'tiled'];

for (const variant of variants) {
  for (const [B, C, N] of cases) {
    t(`attention forward matches float64 at B=${B} C=${C} N=${N} (${variant} matmul)`, async () => {
      const qkv = randomValues(B * 3 * C * N, 1);
      const { values } = await withKernels({ matmul: variant }, () =>
        runGraph((g) => {
          const x = g.input('qkv', [B, 3 * C, N]);
          return { feeds: [[x, qkv]], outputs: [attention(g, x)] };
        }),
      );
      assertClose(values[0], attentionRef(qkv, B, C, N), FWD[0], FWD[1], 'out');
    });

    t(`attention gradient matches finite differences at B=${B} C=${C} N=${N} (${variant} matmul)`, async () => {
      const qkv = randomValues(B * 3 * C * N, 2);
      const { grads, up } = await withKernels({ matmul: variant }, () =>
        backward([{ name: 'qkv', shape: [B, 3 * C, N], values: qkv }], (g, [x]) => attention(g, x), 3),
      );
      assertGradients(
        grads,
        numericGradients((x) => attentionRef(x, B, C, N), [qkv], up),
        BWD,
        ['dqkv'],
        'finite differences',
      );
    });
  }
}

for (const [B, C, N] of cases)
  t(`analytic reference gradient matches finite differences at B=${B} C=${C} N=${N}`, () => {
    const qkv = randomValues(B * 3 * C * N, 2);
    const up = randomValues(B * C * N, 3);
    assertGradients(
      attentionBackward(qkv, up, B, C, N),
      numericGradients((x) => attentionRef(x, B, C, N), [qkv], up),
      REF,
      ['dqkv'],
      'finite differences',
    );
  });

t('gradients add up where qkv feeds two attention ops', async () => {
  const [B, C, N] = cases[0];
  const qkv = randomValues(B * 3 * C * N, 4);
  const { grads, up } = await backward(
    [{ name: 'qkv', shape: [B, 3 * C, N], values: qkv }],
    (g, [x]) => add(g, attention(g, x, 'a'), attention(g, x, 'b')),
    5,
  );
  const twice = (x: Float64Array) => attentionRef(x, B, C, N).map((v) => 2 * v);
  assertGradients(grads, numericGradients(twice, [qkv], up), BWD, ['dqkv'], 'finite differences of both');
});

t('qkv must have three parts of channels', () => {
  const g = new Graph('bad');
  assert.throws(() => attention(g, g.input('qkv', [2, 8, 5])), /qkv .* must be \[batch, 3 channels, positions\]/);
  assert.throws(() => attention(g, g.input('flat', [2, 12])), /must be \[batch, 3 channels, positions\]/);
});

t.run();
