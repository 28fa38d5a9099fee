import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { add, addChannelBias, silu } from '../src/core/ops/elementwise.js';
import { groupNorm, groupNormSilu } from '../src/core/ops/groupnorm.js';
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
import { addRef, groupNormBackward, groupNormRef, siluRef } from './reference.js';

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

// The fused norm, SiLU and what is added after it (groupNormSilu: nothing, a per-(sample,
// channel) bias, or a residual of x's shape): against the float64 composition, whose backward is
// checked against finite differences first, and against the unfused ops composed on the device
// (groupNorm, silu, then addChannelBias or add).
type Added = 'none' | 'bias' | 'residual';
const ADDED: Added[] = ['none', 'bias', 'residual'];
const fusedCases: NormCase[] = [
  { batch: 2, channels: 4, length: 3, groups: 2 },
  { batch: 3, channels: 16, length: 49, groups: 2 }, // 392-element spans: longer than a workgroup of 256
];
function fusedRef(c: NormCase, added: Added) {
  const norm = (x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>) =>
    groupNormRef(x, gamma, beta, c.batch, c.channels, c.length, c.groups, c.eps ?? 1e-5);
  const at = (i: number) => (added === 'bias' ? Math.floor(i / c.length) : i);
  const forward = (x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, r?: ArrayLike<number>) =>
    Float64Array.from(siluRef(norm(x, gamma, beta)), (v, i) => v + (r ? r[at(i)] : 0));
  // dz = up SiLU'(z), then GroupNorm's backward; the bias takes the sum of up over the length,
  // the residual up itself.
  const backwardOf = (
    x: ArrayLike<number>,
    gamma: ArrayLike<number>,
    beta: ArrayLike<number>,
    up: ArrayLike<number>,
  ) => {
    const dz = Float64Array.from(norm(x, gamma, beta), (v, i) => {
      const s = 1 / (1 + Math.exp(-v));
      return up[i] * s * (1 + v * (1 - s));
    });
    const grads = groupNormBackward(x, gamma, dz, c.batch, c.channels, c.length, c.groups, c.eps ?? 1e-5);
    if (added === 'none') return grads;
    const dr = new Float64Array(added === 'bias' ? c.batch * c.channels : up.length);
    for (let i = 0; i < up.length; i++) dr[at(i)] += up[i];
    return [...grads, dr];
  };
  return { forward, backwardOf };
}
const fusedOperands = (c: NormCase, added: Added, seed: number) => {
  const o = operands(c, seed);
  if (added === 'none') return { ...o, r: undefined, list: o.list };
  const shape = added === 'bias' ? [c.batch, c.channels] : [c.batch, c.channels, c.length];
  const r = randomValues(
    shape.reduce((m, d) => m * d),
    seed + 3,
  );
  return { ...o, r, list: [...o.list, { name: added, shape, values: r }] };
};
const fusedOp =
  (c: NormCase, added: Added) =>
  (g: Parameters<typeof groupNorm>[0], [tx, tg, tb, tr]: Parameters<typeof groupNorm>[1][]) =>
    groupNormSilu(g, tx, tg, tb, c.groups, added === 'none' ? {} : { [added]: tr });
const unfusedOps =
  (c: NormCase, added: Added) =>
  (g: Parameters<typeof groupNorm>[0], [tx, tg, tb, tr]: Parameters<typeof groupNorm>[1][]) => {
    const h = silu(g, groupNorm(g, tx, tg, tb, c.groups));
    return added === 'bias' ? addChannelBias(g, h, tr) : added === 'residual' ? add(g, h, tr) : h;
  };

for (const c of fusedCases)
  for (const added of ADDED) {
    const { forward, backwardOf } = fusedRef(c, added);
    const grads = ['dx', 'dgamma', 'dbeta', ...(added === 'none' ? [] : [`d${added}`])];
    // A residual on the small case only: at 2352 outputs, the residual keeps the sum of up times
    // outputs large, and the central differences' own roundoff is about 1e-7, above REF's 1e-8.
    if (added !== 'residual' || c === fusedCases[0])
      t(`SiLU(GroupNorm) + ${added}: the float64 backward matches finite differences for ${label(c)}`, () => {
        const { x, gamma, beta, r } = fusedOperands(c, added, 21);
        const up = randomValues(x.length, 24);
        const inputs = r ? [x, gamma, beta, r] : [x, gamma, beta];
        assertGradients(
          backwardOf(x, gamma, beta, up),
          numericGradients(forward, inputs, up),
          REF,
          grads,
          'finite differences',
        );
      });
    for (const reductions of REDUCTIONS)
      t(
        `groupNormSilu + ${added}: forward and gradients match float64 and the unfused ops for ${label(c)} (${reductions} reductions)`,
        () =>
          withKernels({ reductions }, async () => {
            const { x, gamma, beta, r, list } = fusedOperands(c, added, 21);
            const { values } = await runGraph((g) => {
              const ts = list.map((o) => g.input(o.name, o.shape));
              return {
                feeds: ts.map((tt, i) => [tt, list[i].values] as [typeof tt, ArrayLike<number>]),
                outputs: [fusedOp(c, added)(g, ts), unfusedOps(c, added)(g, ts)],
              };
            });
            assertClose(values[0], forward(x, gamma, beta, r), FWD[0], FWD[1], 'y against float64');
            assertClose(values[0], values[1], FWD[0], FWD[1], 'y against the unfused ops');
            const a = await backward(list, fusedOp(c, added), 25);
            const b = await backward(list, unfusedOps(c, added), 25);
            assertGradients(a.grads, backwardOf(x, gamma, beta, a.up), BWD, grads, 'float64');
            assertGradients(a.grads, b.grads, BWD, grads, 'the unfused ops');
          }),
      );
  }

t('groupNormSilu: gamma alone or beta alone takes its gradient (the one-sum kernel)', async () => {
  const c = fusedCases[0];
  const { backwardOf } = fusedRef(c, 'none');
  for (const frozen of [1, 2]) {
    const { x, gamma, beta, list } = fusedOperands(c, 'none', 31);
    const inputs = list.map((o, i) => (i === frozen ? { ...o, grad: false } : o));
    const { grads, up } = await backward(inputs, fusedOp(c, 'none'), 33);
    const names = ['dx', 'dgamma', 'dbeta'];
    const keep = (_: unknown, i: number) => i !== frozen;
    assertGradients(
      grads,
      backwardOf(x, gamma, beta, up).filter(keep),
      BWD,
      names.filter(keep),
      `${names[frozen]} not taken`,
    );
  }
});

t('groupNormSilu: a bias and a residual at once are refused', () => {
  const g = new Graph('both');
  const x = g.input('x', [2, 4, 3]);
  const v = g.input('v', [4]);
  assert.throws(
    () => groupNormSilu(g, x, v, v, 2, { bias: g.input('b', [2, 4]), residual: g.input('r', [2, 4, 3]), name: 'n' }),
    /n: a bias or a residual, not both/,
  );
});

t.run();
