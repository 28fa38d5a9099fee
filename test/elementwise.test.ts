import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Tensor } from '../src/core/graph.js';
import { add, addChannelBias, concatChannels, mul, silu, sliceColumns } from '../src/core/ops/elementwise.js';
import {
  assertClose,
  assertGradients,
  dot,
  finiteDifference,
  numericGradients,
  randomValues,
  runGraph,
  backward,
  type Operand,
} from './harness.js';
import {
  addChannelBiasBackward,
  addChannelBiasRef,
  addRef,
  concatChannelsBackward,
  concatChannelsRef,
  mulBackward,
  mulRef,
  siluBackward,
  siluRef,
} from './reference.js';

// Tolerances. add, mul, the channel bias and concatenation are one f32 rounding (or none) from
// float64: atol 1e-6 + rtol 1e-6; concatenation copies, so it is bit-exact against the
// reference rounded to f32. SiLU goes through f32 exp: atol 1e-6 + rtol 1e-5.
// Backward: f32 gradients against central differences of the float64 reference (h = 1e-5):
// atol 1e-5 + rtol 1e-4, the same against the float64 analytic backward. The analytic
// references against their own central differences (both float64): only roundoff and SiLU's
// small h^2 term separate them: atol 1e-8 + rtol 1e-7.
const EXACT = [1e-6, 1e-6] as const;
const SILU = [1e-6, 1e-5] as const;
const BWD = [1e-5, 1e-4] as const;
const REF = [1e-8, 1e-7] as const;

const t = suite('elementwise');

/** The forward of `op` on the given operands, read back after a poisoned run. */
async function forward(inputs: Operand[], op: (g: Graph, ts: Tensor[]) => Tensor): Promise<Float32Array> {
  const { values } = await runGraph((g) => {
    const ts = inputs.map((o) => g.input(o.name, o.shape, o.dtype ?? 'f32'));
    return { feeds: inputs.map((o, i): [Tensor, ArrayLike<number>] => [ts[i], o.values]), outputs: [op(g, ts)] };
  });
  return values[0];
}

const operand = (name: string, shape: number[], seed: number): Operand => ({
  name,
  shape,
  values: randomValues(
    shape.reduce((a, b) => a * b),
    seed,
  ),
});
const shapes = [[8, 32, 2], [3, 5, 7], [1000]];

for (const shape of shapes) {
  const s = shape.join('x');
  t(`add forward matches float64 at [${s}]`, async () => {
    const a = operand('a', shape, 1),
      b = operand('b', shape, 2);
    assertClose(
      await forward([a, b], (g, [x, y]) => add(g, x, y)),
      addRef(a.values, b.values),
      EXACT[0],
      EXACT[1],
      'y',
    );
  });
  t(`mul forward matches float64 at [${s}]`, async () => {
    const a = operand('a', shape, 3),
      b = operand('b', shape, 4);
    assertClose(
      await forward([a, b], (g, [x, y]) => mul(g, x, y)),
      mulRef(a.values, b.values),
      EXACT[0],
      EXACT[1],
      'y',
    );
  });
  t(`silu forward matches float64 at [${s}]`, async () => {
    const a = operand('x', shape, 5);
    assertClose(await forward([a], (g, [x]) => silu(g, x)), siluRef(a.values), SILU[0], SILU[1], 'y');
  });
}

t('silu stays finite and exact in its tails (|x| up to 100)', async () => {
  const values = [-100, -88, -50, -20, -5, -1e-3, 0, 1e-3, 5, 20, 50, 88, 100];
  assertClose(
    await forward([{ name: 'x', shape: [values.length], values }], (g, [x]) => silu(g, x)),
    siluRef(values),
    SILU[0],
    SILU[1],
    'y',
  );
});

const channelShapes: [number, number, number][] = [
  [8, 32, 2],
  [3, 5, 7],
  [2, 64, 1],
];
for (const [B, C, L] of channelShapes) {
  t(`addChannelBias forward matches float64 at B=${B} C=${C} L=${L}`, async () => {
    const x = operand('x', [B, C, L], 6),
      bias = operand('bias', [B, C], 7);
    const y = await forward([x, bias], (g, [tx, tb]) => addChannelBias(g, tx, tb));
    assertClose(y, addChannelBiasRef(x.values, bias.values, B, C, L), EXACT[0], EXACT[1], 'y');
  });
}

const concatShapes: [number, number, number, number][] = [
  [8, 32, 32, 2],
  [3, 2, 5, 7],
  [2, 1, 4, 3],
];
for (const [B, Ca, Cb, L] of concatShapes) {
  t(`concatChannels forward matches torch.cat at B=${B} Ca=${Ca} Cb=${Cb} L=${L}`, async () => {
    const a = operand('a', [B, Ca, L], 8),
      b = operand('b', [B, Cb, L], 9);
    const y = await forward([a, b], (g, [ta, tb]) => concatChannels(g, ta, tb));
    assertClose(y, concatChannelsRef(a.values, b.values, B, Ca, Cb, L).map(Math.fround), 0, 0, 'y');
  });
}

// Each gradient case runs twice: the float64 analytic reference against central differences of
// the forward (checks the reference), then the GPU against both, with the same upstream gradient.
interface GradCase {
  what: string;
  inputs: Operand[];
  op: (g: Graph, ts: Tensor[]) => Tensor;
  ref: (...inputs: Float64Array[]) => ArrayLike<number>;
  analytic: (up: Float64Array, ...inputs: Float64Array[]) => Float64Array[];
  upSeed: number;
}
/** Columns [off, off + w) of x [B, C] in float64, and the gradient a slice sends back. */
const sliceRef = (x: Float64Array, B: number, C: number, off: number, w: number) =>
  Float64Array.from({ length: B * w }, (_, i) => x[Math.floor(i / w) * C + off + (i % w)]);
const sliceBackward = (up: Float64Array, B: number, C: number, off: number, w: number) => {
  const dx = new Float64Array(B * C);
  for (let i = 0; i < B * w; i++) dx[Math.floor(i / w) * C + off + (i % w)] += up[i];
  return dx;
};

const gradCases: GradCase[] = [
  {
    what: 'add',
    inputs: [operand('a', [2, 3, 4], 10), operand('b', [2, 3, 4], 11)],
    upSeed: 12,
    op: (g, [x, y]) => add(g, x, y),
    ref: addRef,
    analytic: (up) => [up, up],
  },
  {
    what: 'mul',
    inputs: [operand('a', [2, 3, 4], 13), operand('b', [2, 3, 4], 14)],
    upSeed: 15,
    op: (g, [x, y]) => mul(g, x, y),
    ref: mulRef,
    analytic: (up, a, b) => mulBackward(a, b, up),
  },
  {
    what: 'silu (tails included)',
    upSeed: 17,
    inputs: [
      { name: 'x', shape: [40], values: [...randomValues(32, 16)].concat([-30, -8, -3, -1e-3, 1e-3, 3, 8, 30]) },
    ],
    op: (g, [x]) => silu(g, x),
    ref: siluRef,
    analytic: (up, x) => siluBackward(x, up),
  },
  {
    what: 'addChannelBias',
    inputs: [operand('x', [3, 4, 5], 18), operand('bias', [3, 4], 19)],
    upSeed: 20,
    op: (g, [x, bias]) => addChannelBias(g, x, bias),
    ref: (x, bias) => addChannelBiasRef(x, bias, 3, 4, 5),
    analytic: (up) => addChannelBiasBackward(up, 3, 4, 5),
  },
  {
    what: 'concatChannels',
    inputs: [operand('a', [2, 3, 4], 21), operand('b', [2, 2, 4], 22)],
    upSeed: 23,
    op: (g, [a, b]) => concatChannels(g, a, b),
    ref: (a, b) => concatChannelsRef(a, b, 2, 3, 2, 4),
    analytic: (up) => concatChannelsBackward(up, 2, 3, 2, 4),
  },
  {
    what: 'sliceColumns',
    inputs: [operand('x', [3, 7], 28)],
    upSeed: 29,
    op: (g, [x]) => sliceColumns(g, x, 2, 3),
    ref: (x) => sliceRef(x, 3, 7, 2, 3),
    analytic: (up) => [sliceBackward(up, 3, 7, 2, 3)],
  },
  {
    // Two overlapping slices: the first gradient written clears the columns neither reads (0).
    what: 'sliceColumns twice (overlapping, column 0 unread)',
    inputs: [operand('x', [3, 7], 30)],
    upSeed: 31,
    op: (g, [x]) => add(g, sliceColumns(g, x, 1, 4, 'left'), sliceColumns(g, x, 3, 4, 'right')),
    ref: (x) => addRef(sliceRef(x, 3, 7, 1, 4), sliceRef(x, 3, 7, 3, 4)),
    analytic: (up) => [addRef(sliceBackward(up, 3, 7, 1, 4), sliceBackward(up, 3, 7, 3, 4))],
  },
];

t('sliceColumns forward copies the columns, and refuses a range outside the tensor', async () => {
  const x = operand('x', [4, 9], 32);
  assertClose(
    await forward([x], (g, [tx]) => sliceColumns(g, tx, 5, 4)),
    sliceRef(Float64Array.from(x.values), 4, 9, 5, 4).map(Math.fround),
    0,
    0,
    'y',
  );
  const g = new Graph('bad slice');
  const tx = g.input('x', [4, 9]);
  assert.throws(() => sliceColumns(g, tx, 6, 4), /columns \[6, 10\) are not a non-empty range inside the 9 columns/);
  assert.throws(() => sliceColumns(g, tx, 0, 0), /columns \[0, 0\) are not a non-empty range/);
});

for (const c of gradCases) {
  const values = c.inputs.map((o) => Float64Array.from(o.values));
  const names = c.inputs.map((o) => `d${o.name}`);
  t(`${c.what} analytic reference gradients match finite differences`, () => {
    const up = randomValues(c.ref(...values).length, c.upSeed); // what backward() draws for the GPU test
    assertGradients(c.analytic(up, ...values), numericGradients(c.ref, values, up), REF, names, 'finite differences');
  });

  t(`${c.what} gradients match the analytic reference and finite differences`, async () => {
    const { grads, up } = await backward(c.inputs, c.op, c.upSeed);
    assertGradients(grads, c.analytic(up, ...values), BWD, names, 'the analytic reference');
    assertGradients(grads, numericGradients(c.ref, values, up), BWD, names, 'finite differences');
  });
}

t('gradients accumulate through add(silu(x), x)', async () => {
  const x = operand('x', [2, 3, 4], 24);
  const { grads, up } = await backward([x], (g, [tx]) => add(g, silu(g, tx), tx), 25);
  assertGradients(
    grads,
    [addRef(siluBackward(x.values, up)[0], up)],
    BWD,
    ['dx'],
    'the analytic reference (silu and the add both reach x)',
  );
  assertClose(
    grads[0],
    finiteDifference((v) => dot(addRef(siluRef(v), v), up), Float64Array.from(x.values)),
    BWD[0],
    BWD[1],
    'dx',
  );
});

t('gradients accumulate through mul(x, x)', async () => {
  const x = operand('x', [2, 3, 4], 26);
  const { grads, up } = await backward([x], (g, [tx]) => mul(g, tx, tx), 27);
  assertGradients(
    grads,
    [addRef(...mulBackward(x.values, x.values, up))],
    BWD,
    ['dx'],
    'the analytic reference (both factors are x)',
  );
  assertClose(
    grads[0],
    finiteDifference((v) => dot(mulRef(v, v), up), Float64Array.from(x.values)),
    BWD[0],
    BWD[1],
    'dx',
  );
});

t('gradients accumulate through concatChannels(x, silu(x)) and a channel bias used twice', async () => {
  const [B, C, L] = [2, 3, 4];
  const x = operand('x', [B, C, L], 28),
    bias = operand('bias', [B, 2 * C], 29);
  const { grads, up } = await backward(
    [x, bias],
    (g, [tx, tb]) =>
      add(
        g,
        addChannelBias(g, concatChannels(g, tx, silu(g, tx)), tb, 'bias_a'),
        addChannelBias(g, concatChannels(g, silu(g, tx, 'silu_b'), tx, 'concat_b'), tb, 'bias_b'),
      ),
    30,
  );
  const f = (xv: ArrayLike<number>, bv: ArrayLike<number>) =>
    dot(
      addRef(
        addChannelBiasRef(concatChannelsRef(xv, siluRef(xv), B, C, C, L), bv, B, 2 * C, L),
        addChannelBiasRef(concatChannelsRef(siluRef(xv), xv, B, C, C, L), bv, B, 2 * C, L),
      ),
      up,
    );
  assertClose(
    grads[0],
    finiteDifference((v) => f(v, bias.values), Float64Array.from(x.values)),
    BWD[0],
    BWD[1],
    'dx',
  );
  assertClose(
    grads[1],
    finiteDifference((v) => f(x.values, v), Float64Array.from(bias.values)),
    BWD[0],
    BWD[1],
    'dbias',
  );
});

t.run();
