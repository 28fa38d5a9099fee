import { suite } from 'uvu';
import { add } from '../src/core/ops/elementwise.js';
import { groupNorm } from '../src/core/ops/groupnorm.js';
import {
  assertClose,
  assertGradients,
  dot,
  finiteDifference,
  numericGradients,
  randomValues,
  runGraph,
  backward,
  withKernels,
  type Operand,
} from './harness.js';
import { addRef, groupNormBackward, groupNormRef } from './reference.js';

// Tolerances. Forward: two-pass f32 mean and variance over at most a few hundred values, outputs
// of size |xhat gamma + beta| <~ 4: atol 2e-5 + rtol 1e-5. Backward: f32 gradients against
// central differences of the float64 reference (h = 1e-5); the input gradient subtracts two
// group means, so atol 2e-4 + rtol 1e-3, the same against the float64 analytic backward. The
// analytic reference against its own central differences (both float64): the forward is smooth,
// rstd <~ 9 here, and the h^2 term plus roundoff measure <~ 2e-9: atol 1e-8 + rtol 1e-7.
const FWD = [2e-5, 1e-5] as const;
const BWD = [2e-4, 1e-3] as const;
const REF = [1e-8, 1e-7] as const;

const t = suite('groupnorm');

interface NormCase {
  batch: number;
  channels: number;
  length: number;
  groups: number;
  eps?: number;
}
const label = (c: NormCase) => `GroupNorm(${c.groups}, ${c.channels}) B=${c.batch} L=${c.length} eps=${c.eps ?? 1e-5}`;
const operands = (c: NormCase, seed: number) => {
  const x = randomValues(c.batch * c.channels * c.length, seed);
  const gamma = randomValues(c.channels, seed + 1),
    beta = randomValues(c.channels, seed + 2);
  const list: Operand[] = [
    { name: 'x', shape: [c.batch, c.channels, c.length], values: x },
    { name: 'gamma', shape: [c.channels], values: gamma },
    { name: 'beta', shape: [c.channels], values: beta },
  ];
  const ref = (xv: ArrayLike<number>, gv: ArrayLike<number>, bv: ArrayLike<number>) =>
    groupNormRef(xv, gv, bv, c.batch, c.channels, c.length, c.groups, c.eps ?? 1e-5);
  return { x, gamma, beta, list, ref };
};

const forwardCases: NormCase[] = [
  { batch: 8, channels: 32, length: 2, groups: 4 }, // two-pixel UNet blocks 1 and 3
  { batch: 8, channels: 64, length: 2, groups: 32 }, // block 2: groups of 4 numbers
  { batch: 3, channels: 6, length: 7, groups: 3, eps: 0.1 }, // a large eps shows it sits inside the square root
  { batch: 2, channels: 5, length: 9, groups: 1 }, // one group: layer norm over channels and length
  { batch: 2, channels: 4, length: 6, groups: 4 }, // a group per channel: instance norm
];

// Both reduction variants (src/core/config.ts): one invocation per span (CPU drivers), one
// workgroup per span (GPUs); the spans below are shorter and longer than a workgroup of 256.
const REDUCTIONS = ['invocation', 'workgroup'] as const;
forwardCases.push({ batch: 2, channels: 16, length: 49, groups: 2 }); // 392-element spans: 256 lanes, some twice
for (const reductions of REDUCTIONS)
  for (const c of forwardCases) {
    t(`forward matches PyTorch's definition in float64 for ${label(c)} (${reductions} reductions)`, () =>
      withKernels({ reductions }, async () => {
        const { x, gamma, beta, list, ref } = operands(c, 1);
        const { values } = await runGraph((g) => {
          const [tx, tg, tb] = list.map((o) => g.input(o.name, o.shape));
          return {
            feeds: [
              [tx, x],
              [tg, gamma],
              [tb, beta],
            ],
            outputs: [groupNorm(g, tx, tg, tb, c.groups, c.eps)],
          };
        });
        assertClose(values[0], ref(x, gamma, beta), FWD[0], FWD[1], 'y');
      }),
    );
  }

const GRADS = ['dx', 'dgamma', 'dbeta'];
const gradCases: NormCase[] = [
  { batch: 2, channels: 4, length: 3, groups: 2 },
  { batch: 3, channels: 4, length: 100, groups: 2 }, // spans of 200 and a gamma reduction over 300
  { batch: 2, channels: 64, length: 2, groups: 32 },
  { batch: 2, channels: 6, length: 2, groups: 3, eps: 0.1 },
];

for (const c of gradCases) {
  const analytic = (x: ArrayLike<number>, gamma: ArrayLike<number>, up: ArrayLike<number>) =>
    groupNormBackward(x, gamma, up, c.batch, c.channels, c.length, c.groups, c.eps ?? 1e-5);
  t(`analytic reference gradients match finite differences for ${label(c)}`, () => {
    const { x, gamma, beta, ref } = operands(c, 4);
    const up = randomValues(x.length, 7); // the GPU test's upstream gradient
    assertGradients(
      analytic(x, gamma, up),
      numericGradients(ref, [x, gamma, beta], up),
      REF,
      GRADS,
      'finite differences',
    );
  });

  for (const reductions of REDUCTIONS)
    t(
      `gradients of x, gamma and beta match the analytic reference and finite differences for ${label(c)} (${reductions} reductions)`,
      () =>
        withKernels({ reductions }, async () => {
          const { x, gamma, beta, list, ref } = operands(c, 4);
          const { grads, up } = await backward(list, (g, [tx, tg, tb]) => groupNorm(g, tx, tg, tb, c.groups, c.eps), 7);
          assertGradients(grads, analytic(x, gamma, up), BWD, GRADS, 'the analytic reference');
          assertGradients(grads, numericGradients(ref, [x, gamma, beta], up), BWD, GRADS, 'finite differences');
        }),
    );
}

t('gradients accumulate where x feeds the norm and a residual add', async () => {
  const c: NormCase = { batch: 2, channels: 4, length: 3, groups: 2 };
  const { x, gamma, beta, list, ref } = operands(c, 8);
  const { grads, up } = await backward(list, (g, [tx, tg, tb]) => add(g, groupNorm(g, tx, tg, tb, c.groups), tx), 11);
  const [dx, dgamma, dbeta] = groupNormBackward(x, gamma, up, c.batch, c.channels, c.length, c.groups);
  assertGradients(
    grads,
    [addRef(dx, up), dgamma, dbeta],
    BWD,
    GRADS,
    'the analytic reference (the residual adds up to dx)',
  );
  assertClose(
    grads[0],
    finiteDifference((v) => dot(addRef(ref(v, gamma, beta), v), up), x),
    BWD[0],
    BWD[1],
    'dx',
  );
});

t('gradients accumulate where gamma and beta serve two norms', async () => {
  const c: NormCase = { batch: 2, channels: 4, length: 3, groups: 2 };
  const { x, gamma, beta, list, ref } = operands(c, 12);
  const x2 = randomValues(x.length, 15);
  const { grads, up } = await backward(
    [...list, { name: 'x2', shape: list[0].shape, values: x2, grad: false }],
    (g, [tx, tg, tb, tx2]) =>
      add(g, groupNorm(g, tx, tg, tb, c.groups, 1e-5, 'norm_a'), groupNorm(g, tx2, tg, tb, c.groups, 1e-5, 'norm_b')),
    16,
  );
  const [dx, dgammaA, dbetaA] = groupNormBackward(x, gamma, up, c.batch, c.channels, c.length, c.groups);
  const [, dgammaB, dbetaB] = groupNormBackward(x2, gamma, up, c.batch, c.channels, c.length, c.groups);
  assertGradients(
    grads,
    [dx, addRef(dgammaA, dgammaB), addRef(dbetaA, dbetaB)],
    BWD,
    GRADS,
    'the analytic reference (both norms add to dgamma, dbeta)',
  );
  const f = (gv: ArrayLike<number>, bv: ArrayLike<number>) => dot(addRef(ref(x, gv, bv), ref(x2, gv, bv)), up);
  assertClose(
    grads[1],
    finiteDifference((v) => f(v, beta), gamma),
    BWD[0],
    BWD[1],
    'dgamma',
  );
  assertClose(
    grads[2],
    finiteDifference((v) => f(gamma, v), beta),
    BWD[0],
    BWD[1],
    'dbeta',
  );
});

t.run();
