// The ops of a 2-D UNet on feature maps [B, C, H, W]: nearest upsampling by 2, and GroupNorm,
// the per-sample channel bias and channel concatenation, which see a map as [B, C, H W].
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { upsample2x } from '../src/core/ops/upsample.js';
import { groupNorm } from '../src/core/ops/groupnorm.js';
import { add, addChannelBias, concatChannels } from '../src/core/ops/elementwise.js';
import { assertClose, assertGradients, backward, numericGradients, randomValues, runGraph } from './harness.js';
import { addChannelBiasRef, concatChannelsRef, groupNormBackward, groupNormRef, upsample2xRef } from './reference.js';

// Copies and sums of at most four values: exact but for the sums' rounding (atol 1e-6); GroupNorm
// as test/groupnorm.test.ts (forward 1e-5, gradients 1e-4).
const COPY = [1e-6, 0] as const;
const FWD = [1e-5, 1e-5] as const;
const BWD = [1e-4, 1e-4] as const;

const t = suite('feature maps');

t('upsample2x copies each pixel to a 2x2 block, and its gradient sums the block', async () => {
  const [B, C, H, W] = [2, 3, 3, 5];
  const x = randomValues(B * C * H * W, 1);
  const { values } = await runGraph((g) => {
    const tx = g.input('x', [B, C, H, W]);
    const y = upsample2x(g, tx);
    assert.equal(y.shape, [B, C, 2 * H, 2 * W]);
    return { feeds: [[tx, x]], outputs: [y] };
  });
  assertClose(values[0], upsample2xRef(x, B * C, H, W), COPY[0], COPY[1], 'y');
  // x feeds the upsampling twice: its gradient accumulates
  const { grads, up } = await backward(
    [{ name: 'x', shape: [B, C, H, W], values: x }],
    (g, [tx]) => add(g, upsample2x(g, tx, 'u1'), upsample2x(g, tx, 'u2')),
    2,
  );
  const twice = (v: Float64Array) => upsample2xRef(v, B * C, H, W).map((u) => 2 * u);
  assertGradients(grads, numericGradients(twice, [x], up), BWD, ['dx'], 'finite differences');
});

t('GroupNorm of a [B, C, H, W] map is GroupNorm of [B, C, H W], forward and backward', async () => {
  const [B, C, H, W, G] = [2, 8, 3, 4, 4];
  const x = randomValues(B * C * H * W, 3),
    gamma = randomValues(C, 4),
    beta = randomValues(C, 5);
  const list = [
    { name: 'x', shape: [B, C, H, W], values: x },
    { name: 'gamma', shape: [C], values: gamma },
    { name: 'beta', shape: [C], values: beta },
  ];
  const { values } = await runGraph((g) => {
    const [tx, tg, tb] = list.map((o) => g.input(o.name, o.shape));
    const y = groupNorm(g, tx, tg, tb, G);
    assert.equal(y.shape, [B, C, H, W]);
    return {
      feeds: [
        [tx, x],
        [tg, gamma],
        [tb, beta],
      ],
      outputs: [y],
    };
  });
  assertClose(values[0], groupNormRef(x, gamma, beta, B, C, H * W, G), FWD[0], FWD[1], 'y');
  const { grads, up } = await backward(list, (g, [tx, tg, tb]) => groupNorm(g, tx, tg, tb, G), 6);
  assertGradients(
    grads,
    groupNormBackward(x, gamma, up, B, C, H * W, G),
    BWD,
    ['dx', 'dgamma', 'dbeta'],
    'the analytic reference',
  );
});

t('a per-sample channel bias and channel concatenation work on [B, C, H, W] maps', async () => {
  const [B, Ca, Cb, H, W] = [2, 3, 2, 4, 3];
  const a = randomValues(B * Ca * H * W, 7),
    b = randomValues(B * Cb * H * W, 8),
    bias = randomValues(B * Ca, 9);
  const { values } = await runGraph((g) => {
    const [ta, tb, tbias] = [g.input('a', [B, Ca, H, W]), g.input('b', [B, Cb, H, W]), g.input('bias', [B, Ca])];
    const biased = addChannelBias(g, ta, tbias);
    const joined = concatChannels(g, ta, tb);
    assert.equal(
      [biased.shape, joined.shape],
      [
        [B, Ca, H, W],
        [B, Ca + Cb, H, W],
      ],
    );
    return {
      feeds: [
        [ta, a],
        [tb, b],
        [tbias, bias],
      ],
      outputs: [biased, joined],
    };
  });
  assertClose(values[0], addChannelBiasRef(a, bias, B, Ca, H * W), COPY[0], COPY[1], 'biased');
  assertClose(values[1], concatChannelsRef(a, b, B, Ca, Cb, H * W), COPY[0], COPY[1], 'joined');
  const g = new Graph('bad');
  assert.throws(() => concatChannels(g, g.input('p', [B, Ca, H, W]), g.input('q', [B, Cb, W, H])), /second input/);
  assert.throws(() => upsample2x(g, g.input('r', [B, Ca, H])), /must be \[batch, channels, height, width\]/);
});

t.run();
