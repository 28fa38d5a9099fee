import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { conv1d, convTranspose1d } from '../src/core/ops/conv1d.js';
import { add } from '../src/core/ops/elementwise.js';
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
  addRef,
  conv1dBackward,
  conv1dLength,
  conv1dRef,
  convTranspose1dBackward,
  convTranspose1dRef,
  type ConvShape,
} from './reference.js';

// Tolerances. Forward: each output sums cin * kernel products of values in ±1 in f32, in the
// kernel's fixed order: atol 1e-5 + rtol 1e-5. Backward: central differences of the float64
// reference (h = 1e-5, error ~1e-10) against f32 gradients summed over batch, channels and
// length: atol 1e-4 + rtol 1e-4, the same against the float64 analytic backward. The analytic
// reference against its own central differences: both float64 and the forward is linear in each
// input, so only the roundoff of f(x +- h) over 2h (~1e-16 |f| / h) separates them: atol 1e-8 +
// rtol 1e-7.
const FWD = [1e-5, 1e-5] as const;
const BWD = [1e-4, 1e-4] as const;
const REF = [1e-8, 1e-7] as const;

const t = suite('conv1d');

const label = (s: ConvShape, pad: unknown) =>
  `B=${s.batch} ${s.cin}->${s.cout} L=${s.length} K=${s.kernel} stride=${s.stride ?? 1} padding=${JSON.stringify(pad)}`;
const operands = (s: ConvShape, transposed: boolean, seed: number) => {
  const x = randomValues(s.batch * s.cin * s.length, seed),
    w = randomValues(s.cout * s.cin * s.kernel, seed + 1),
    b = randomValues(s.cout, seed + 2);
  const wShape = transposed ? [s.cin, s.cout, s.kernel] : [s.cout, s.cin, s.kernel];
  const list: Operand[] = [
    { name: 'x', shape: [s.batch, s.cin, s.length], values: x },
    { name: 'w', shape: wShape, values: w },
    { name: 'b', shape: [s.cout], values: b },
  ];
  return { x, w, b, list };
};

const convCases: [ConvShape, [number, number]][] = [
  [{ batch: 8, cin: 1, cout: 32, length: 2, kernel: 2 }, [0, 1]], // two-pixel UNet encoder block 1
  [{ batch: 8, cin: 32, cout: 64, length: 2, kernel: 1 }, [0, 0]], // encoder block 2
  [{ batch: 3, cin: 3, cout: 5, length: 10, kernel: 3, stride: 2 }, [1, 1]], // stride 2, floor in the length
  [{ batch: 2, cin: 4, cout: 3, length: 7, kernel: 4, stride: 3 }, [2, 0]], // asymmetric padding
];

for (const [s, pad] of convCases) {
  t(`conv1d forward matches float64 at ${label(s, pad)}`, async () => {
    const { x, w, b, list } = operands(s, false, 1);
    const { values } = await runGraph((g) => {
      const [tx, tw, tb] = list.map((o) => g.input(o.name, o.shape));
      const y = conv1d(g, tx, tw, tb, { stride: s.stride, padding: pad });
      return {
        feeds: [
          [tx, x],
          [tw, w],
          [tb, b],
        ],
        outputs: [y],
      };
    });
    assertClose(values[0], conv1dRef(x, w, b, s, pad), FWD[0], FWD[1], 'y');
  });
}

t('conv1d with padding [0, 1] keeps the two-pixel length at 2', () => {
  const g = new Graph('shape');
  const y = conv1d(g, g.input('x', [4, 1, 2]), g.input('w', [32, 1, 2]), g.input('b', [32]), { padding: [0, 1] });
  assert.equal(y.shape, [4, 32, 2]);
  assert.is(conv1dLength({ batch: 4, cin: 1, cout: 32, length: 2, kernel: 2 }, [0, 1]), 2);
});

const transposeCases: [ConvShape, number][] = [
  [{ batch: 8, cin: 64, cout: 32, length: 2, kernel: 1 }, 0], // decoder block 1
  [{ batch: 8, cin: 64, cout: 1, length: 2, kernel: 1 }, 0], // decoder block 2 (32 + 32 skip -> 1)
  [{ batch: 3, cin: 3, cout: 4, length: 5, kernel: 3, stride: 2 }, 1], // stride 2 with padding
  [{ batch: 2, cin: 5, cout: 2, length: 1, kernel: 2, stride: 2 }, 0], // the stride-2 variant's kernel-2 upsampling
];

for (const [s, pad] of transposeCases) {
  t(`convTranspose1d forward matches float64 at ${label(s, pad)}`, async () => {
    const { x, w, b, list } = operands(s, true, 4);
    const { values } = await runGraph((g) => {
      const [tx, tw, tb] = list.map((o) => g.input(o.name, o.shape));
      const y = convTranspose1d(g, tx, tw, tb, { stride: s.stride, padding: pad });
      return {
        feeds: [
          [tx, x],
          [tw, w],
          [tb, b],
        ],
        outputs: [y],
      };
    });
    assertClose(values[0], convTranspose1dRef(x, w, b, s, pad), FWD[0], FWD[1], 'y');
  });
}

const GRADS = ['dx', 'dw', 'db'];
const convGradCases: [ConvShape, [number, number]][] = [
  [{ batch: 2, cin: 1, cout: 4, length: 2, kernel: 2 }, [0, 1]],
  [{ batch: 2, cin: 2, cout: 3, length: 7, kernel: 3, stride: 2 }, [1, 2]],
];

for (const [s, pad] of convGradCases) {
  const ref = (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) => conv1dRef(x, w, b, s, pad);
  t(`conv1d analytic reference gradients match finite differences at ${label(s, pad)}`, () => {
    const { x, w, b } = operands(s, false, 7);
    const up = randomValues(ref(x, w, b).length, 10); // the GPU test's upstream gradient
    assertGradients(
      conv1dBackward(x, w, up, s, pad),
      numericGradients(ref, [x, w, b], up),
      REF,
      GRADS,
      'finite differences',
    );
  });

  t(
    `conv1d gradients of x, w and b match the analytic reference and finite differences at ${label(s, pad)}`,
    async () => {
      const { x, w, b, list } = operands(s, false, 7);
      const { grads, up } = await backward(
        list,
        (g, [tx, tw, tb]) => conv1d(g, tx, tw, tb, { stride: s.stride, padding: pad }),
        10,
      );
      assertGradients(grads, conv1dBackward(x, w, up, s, pad), BWD, GRADS, 'the analytic reference');
      assertGradients(grads, numericGradients(ref, [x, w, b], up), BWD, GRADS, 'finite differences');
    },
  );
}

const transposeGradCases: [ConvShape, number][] = [
  [{ batch: 2, cin: 4, cout: 3, length: 2, kernel: 1 }, 0],
  [{ batch: 2, cin: 2, cout: 3, length: 4, kernel: 3, stride: 2 }, 1],
];

for (const [s, pad] of transposeGradCases) {
  const ref = (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) => convTranspose1dRef(x, w, b, s, pad);
  t(`convTranspose1d analytic reference gradients match finite differences at ${label(s, pad)}`, () => {
    const { x, w, b } = operands(s, true, 11);
    const up = randomValues(ref(x, w, b).length, 14); // the GPU test's upstream gradient
    assertGradients(
      convTranspose1dBackward(x, w, up, s, pad),
      numericGradients(ref, [x, w, b], up),
      REF,
      GRADS,
      'finite differences',
    );
  });

  t(
    `convTranspose1d gradients of x, w and b match the analytic reference and finite differences at ${label(s, pad)}`,
    async () => {
      const { x, w, b, list } = operands(s, true, 11);
      const { grads, up } = await backward(
        list,
        (g, [tx, tw, tb]) => convTranspose1d(g, tx, tw, tb, { stride: s.stride, padding: pad }),
        14,
      );
      assertGradients(grads, convTranspose1dBackward(x, w, up, s, pad), BWD, GRADS, 'the analytic reference');
      assertGradients(grads, numericGradients(ref, [x, w, b], up), BWD, GRADS, 'finite differences');
    },
  );
}

t('gradients accumulate where x feeds a conv and a residual add', async () => {
  const s: ConvShape = { batch: 2, cin: 3, cout: 3, length: 5, kernel: 3 };
  const pad: [number, number] = [1, 1];
  const { x, w, b, list } = operands(s, false, 15);
  const { grads, up } = await backward(
    list,
    (g, [tx, tw, tb]) => add(g, conv1d(g, tx, tw, tb, { padding: pad }), tx),
    18,
  );
  const [dx, dw, db] = conv1dBackward(x, w, up, s, pad);
  assertGradients(grads, [addRef(dx, up), dw, db], BWD, GRADS, 'the analytic reference (the residual adds up to dx)');
  const f = (xv: ArrayLike<number>, wv: ArrayLike<number>) => dot(addRef(conv1dRef(xv, wv, b, s, pad), xv), up);
  assertClose(
    grads[0],
    finiteDifference((v) => f(v, w), x),
    BWD[0],
    BWD[1],
    'dx',
  );
  assertClose(
    grads[1],
    finiteDifference((v) => f(x, v), w),
    BWD[0],
    BWD[1],
    'dw',
  );
});

t('gradients accumulate where one weight and bias serve two convs', async () => {
  const s: ConvShape = { batch: 2, cin: 2, cout: 3, length: 4, kernel: 2, stride: 2 };
  const { x, w, b, list } = operands(s, false, 19);
  const x2 = randomValues(x.length, 22);
  const { grads, up } = await backward(
    [...list, { name: 'x2', shape: list[0].shape, values: x2 }],
    (g, [tx, tw, tb, tx2]) =>
      add(g, conv1d(g, tx, tw, tb, { stride: 2 }, 'conv_a'), conv1d(g, tx2, tw, tb, { stride: 2 }, 'conv_b')),
    23,
  );
  const [dx, dwA, dbA] = conv1dBackward(x, w, up, s),
    [dx2, dwB, dbB] = conv1dBackward(x2, w, up, s);
  assertGradients(
    grads,
    [dx, addRef(dwA, dwB), addRef(dbA, dbB), dx2],
    BWD,
    ['dx', 'dw', 'db', 'dx2'],
    'the analytic reference (both convs add to dw, db)',
  );
  const f = (wv: ArrayLike<number>, bv: ArrayLike<number>) =>
    dot(addRef(conv1dRef(x, wv, bv, s), conv1dRef(x2, wv, bv, s)), up);
  assertClose(
    grads[1],
    finiteDifference((v) => f(v, b), w),
    BWD[0],
    BWD[1],
    'dw',
  );
  assertClose(
    grads[2],
    finiteDifference((v) => f(w, v), b),
    BWD[0],
    BWD[1],
    'db',
  );
});

t.run();
