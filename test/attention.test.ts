// Self-attention over a feature map's positions (qkv [B, 3C, N] -> [B, C, N]), both ways it is
// computed: the fused kernels (one each way, up to MAX_FUSED_POSITIONS positions) and five
// matmuls with a softmax (with either matmul). Each against a float64 reference and its analytic
// backward, the backward against central differences, and the fused path against the composed one.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { attention, MAX_FUSED_POSITIONS } from '../src/core/ops/attention.js';
import { add, concatChannels } from '../src/core/ops/elementwise.js';
import type { MatmulVariant } from '../src/core/config.js';
import {
  assertClose,
  assertGradients,
  backward,
  numericGradients,
  once,
  randomValues,
  runGraph,
  withKernels,
} from './harness.js';
import { addRef, attentionBackward, attentionRef, concatChannelsBackward } from './reference.js';

// Forward: dot products of C values in ±1 (scaled by 1/sqrt(C)), a softmax, then sums of N
// products of probabilities and values: atol 1e-5 + rtol 1e-5. Gradients against the float64
// analytic backward and central differences (h = 1e-5): atol 1e-4 + rtol 1e-4. The analytic
// reference against its own central differences (both float64; the h^2 term and roundoff are
// below 1e-9 here): atol 1e-8 + rtol 1e-7. The fused path against the composed one, outputs and
// gradients (both f32, the same sums, in other orders where the fused kernels take two inner
// steps at once: up to 1.2e-7 apart on lavapipe, bit for bit equal without broadcasts): atol 1e-6
// + rtol 1e-5.
const FWD = [1e-5, 1e-5] as const;
const BWD = [1e-4, 1e-4] as const;
const REF = [1e-8, 1e-7] as const;
const PATHS = [1e-6, 1e-5] as const;

const t = suite('attention');

type Shape = [B: number, C: number, N: number];
const label = ([B, C, N]: Shape) => `B=${B} C=${C} N=${N}`;
const ref =
  ([B, C, N]: Shape) =>
  (x: Float64Array) =>
    attentionRef(x, B, C, N);
const qkvOf = ([B, C, N]: Shape, seed: number) => randomValues(B * 3 * C * N, seed);

async function forwardOf([B, C, N]: Shape, qkv: Float64Array, fused: boolean): Promise<Float32Array> {
  const { values } = await runGraph((g) => {
    const x = g.input('qkv', [B, 3 * C, N]);
    return { feeds: [[x, qkv]], outputs: [attention(g, x, 'attention', { fused })] };
  });
  return values[0];
}

async function gradientOf([B, C, N]: Shape, qkv: Float64Array, fused: boolean, seed: number) {
  return backward(
    [{ name: 'qkv', shape: [B, 3 * C, N], values: qkv }],
    (g, [x]) => attention(g, x, 'a', { fused }),
    seed,
  );
}

// The fused kernels' shapes: the MNIST UNet's 7x7 map at its cpu (C = 32) and full (C = 128)
// widths; C and N no multiple of four (edge tiles); N at the bound (the scores fill workgroup
// memory); one position (P = 1).
const fusedCases: Shape[] = [
  [2, 8, 49],
  [2, 32, 49],
  [2, 128, 49],
  [3, 5, 13],
  [2, 4, MAX_FUSED_POSITIONS],
  [2, 3, 1],
];
// Central differences over every input take seconds at C = 32 and beyond: those cases are held
// to the analytic backward alone, which the small ones check against central differences.
const probed = (s: Shape) => s[1] <= 8;

// Each fused case with the device's kernels and (plain) without subgroup broadcasts: on a device
// with subgroups of 8 the first are attention_sg.wgsl's, the second attention_plain.wgsl's, a GPU's.
const kernelSets = [
  { tag: '', config: {} },
  { tag: ' (plain)', config: { broadcasts: false } },
];

for (const { tag, config } of kernelSets)
  for (const s of fusedCases) {
    t(`fused forward matches float64 at ${label(s)}${tag}`, async () => {
      const qkv = qkvOf(s, 1);
      const out = await withKernels(config, () => forwardOf(s, qkv, true));
      assertClose(out, ref(s)(qkv), FWD[0], FWD[1], 'out');
    });
  }

const finite = new Map(
  fusedCases
    .filter(probed)
    .map((s) => [label(s), once(() => numericGradients(ref(s), [qkvOf(s, 2)], randomValues(s[0] * s[1] * s[2], 3)))]),
);

for (const s of fusedCases.filter(probed)) {
  t(`analytic reference gradient matches finite differences at ${label(s)}`, () => {
    const [B, C, N] = s;
    const up = randomValues(B * C * N, 3); // the GPU tests' upstream gradient
    assertGradients(
      attentionBackward(qkvOf(s, 2), up, B, C, N),
      finite.get(label(s))!(),
      REF,
      ['dqkv'],
      'finite differences',
    );
  });
}

for (const { tag, config } of kernelSets)
  for (const s of fusedCases) {
    const against = probed(s) ? 'the analytic reference and finite differences' : 'the analytic reference';
    t(`fused gradient matches ${against} at ${label(s)}${tag}`, async () => {
      const [B, C, N] = s;
      const qkv = qkvOf(s, 2);
      const { grads, up } = await withKernels(config, () => gradientOf(s, qkv, true, 3));
      assertGradients(grads, attentionBackward(qkv, up, B, C, N), BWD, ['dqkv'], 'the analytic reference');
      if (probed(s)) assertGradients(grads, finite.get(label(s))!(), BWD, ['dqkv'], 'finite differences');
    });
  }

for (const { tag, config } of kernelSets)
  for (const s of [fusedCases[0], fusedCases[1], fusedCases[3]]) {
    t(`fused forward and gradient match the five matmuls and softmax composed at ${label(s)}${tag}`, () =>
      withKernels(config, async () => {
        const qkv = qkvOf(s, 4);
        assertClose(await forwardOf(s, qkv, true), await forwardOf(s, qkv, false), PATHS[0], PATHS[1], 'out');
        const fused = await gradientOf(s, qkv, true, 5);
        const composed = await gradientOf(s, qkv, false, 5);
        assertGradients(fused.grads, composed.grads, PATHS, ['dqkv'], 'the composed path');
      }),
    );
  }

const composedCases: Shape[] = [
  [2, 4, 5],
  [1, 8, 49], // a 7x7 map
];
const variants: MatmulVariant[] = ['blocked', 'tiled'];

for (const variant of variants) {
  for (const s of composedCases) {
    t(`composed forward matches float64 at ${label(s)} (${variant} matmul)`, async () => {
      const qkv = qkvOf(s, 1);
      const out = await withKernels({ matmul: variant }, () => forwardOf(s, qkv, false));
      assertClose(out, ref(s)(qkv), FWD[0], FWD[1], 'out');
    });

    t(`composed gradient matches finite differences at ${label(s)} (${variant} matmul)`, async () => {
      const qkv = qkvOf(s, 2);
      const { grads, up } = await withKernels({ matmul: variant }, () => gradientOf(s, qkv, false, 3));
      assertGradients(grads, numericGradients(ref(s), [qkv], up), BWD, ['dqkv'], 'finite differences');
    });
  }
}

// accumulate = 1: concat's backward runs first and writes its share of dqkv; attention's adds.
for (const s of [fusedCases[0], fusedCases[1]])
  for (const fused of [true, false])
    t(
      `${fused ? 'fused' : 'composed'} gradient adds to the one already in dqkv (qkv also feeds a concat) at ${label(s)}`,
      async () => {
        const [B, C, N] = s;
        const qkv = qkvOf(s, 6);
        const { grads, up } = await backward(
          [{ name: 'qkv', shape: [B, 3 * C, N], values: qkv }],
          (g, [x]) => concatChannels(g, attention(g, x, 'a', { fused }), x),
          7,
        );
        const [upOut, upQkv] = concatChannelsBackward(up, B, C, 3 * C, N);
        const [dqkv] = attentionBackward(qkv, upOut, B, C, N);
        assertGradients(grads, [addRef(dqkv, upQkv)], BWD, ['dqkv'], 'the analytic reference plus the concat share');
      },
    );

// Each path's backward once overwriting dqkv and once adding to it, whichever op comes second.
for (const [first, second] of [
  [true, false],
  [false, true],
  [true, true],
])
  t(
    `gradients add up where qkv feeds two attention ops (${first ? 'fused' : 'composed'}, then ${second ? 'fused' : 'composed'})`,
    async () => {
      const [B, C, N] = fusedCases[3];
      const qkv = qkvOf(fusedCases[3], 8);
      const { grads, up } = await backward(
        [{ name: 'qkv', shape: [B, 3 * C, N], values: qkv }],
        (g, [x]) => add(g, attention(g, x, 'a', { fused: first }), attention(g, x, 'b', { fused: second })),
        9,
      );
      const [dqkv] = attentionBackward(qkv, up, B, C, N);
      assertGradients(grads, [dqkv.map((v) => 2 * v)], BWD, ['dqkv'], 'twice the analytic reference');
    },
  );

t(
  `past ${MAX_FUSED_POSITIONS} positions the composed path is the default, and asking for the fused one is an error`,
  async () => {
    const s: Shape = [1, 4, MAX_FUSED_POSITIONS + 1];
    const qkv = qkvOf(s, 10);
    const { values } = await runGraph((g) => {
      const x = g.input('qkv', [1, 12, s[2]]);
      return { feeds: [[x, qkv]], outputs: [attention(g, x)] };
    });
    assertClose(values[0], ref(s)(qkv), FWD[0], FWD[1], 'out');
    const g = new Graph('too many');
    assert.throws(
      () => attention(g, g.input('qkv', [1, 12, 13, 5]), 'attn', { fused: true }),
      /attn: the fused attention kernels take at most 64 positions, got N = 65/,
    );
  },
);

t('qkv must have three parts of channels', () => {
  const g = new Graph('bad');
  assert.throws(() => attention(g, g.input('qkv', [2, 8, 5])), /qkv .* must be \[batch, 3 channels, positions\]/);
  assert.throws(() => attention(g, g.input('flat', [2, 12])), /must be \[batch, 3 channels, positions\]/);
});

t.run();
