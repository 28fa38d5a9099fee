// Conv2d and ConvTranspose2d (the implicit-GEMM kernels of shaders/conv2d.wgsl) against float64
// references that visit every product directly, and their gradients against finite differences.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph } from '../src/core/graph.js';
import { conv2d, convTranspose2d, upsampleConv2d } from '../src/core/ops/conv2d.js';
import { add } from '../src/core/ops/elementwise.js';
import {
  assertClose,
  assertGradients,
  numericGradients,
  randomValues,
  runGraph,
  backward,
  withKernels,
  type Operand,
} from './harness.js';
import {
  addRef,
  concatChannelsBackward,
  concatChannelsRef,
  conv2dBackward,
  conv2dRef,
  conv2dSize,
  convTranspose2dSize,
  upsample2xBackward,
  upsample2xRef,
  type Conv2dShape,
} from './reference.js';

// Tolerances as for conv1d (test/conv1d.test.ts): forward sums of at most a few hundred products
// of values in ±1 in f32: atol 1e-5 + rtol 1e-5 (1e-4 where an output sums over the batch and
// every pixel, as the weight gradient does); gradients against float64 central differences
// (h = 1e-5): atol 1e-4 + rtol 1e-4; the float64 analytic reference against its own central
// differences: atol 1e-8 + rtol 1e-7.
const FWD = [1e-5, 1e-5] as const;
const BWD = [1e-4, 1e-4] as const;
const REF = [1e-8, 1e-7] as const;
const GRADS = ['dx', 'dw', 'db'];

const t = suite('conv2d');

// Each case runs with this device's kernels and with a hardware adapter's (the plain kernels, no
// subgroup broadcasts, and workgroup reductions: the weight gradient's sum split into chunks where
// it is long, the bias gradient summed by a workgroup per channel).
const HARDWARE = { broadcasts: false, reductions: 'workgroup' } as const;
const HARDWARE_LABEL = ' (hardware kernels)';

const label = (s: Conv2dShape) =>
  `B=${s.batch} ${s.cin}->${s.cout} ${s.h}x${s.w} kernel ${s.kh}x${s.kw} stride ${s.stride} padding ${s.pad.join(',')}`;

function operands(s: Conv2dShape, transposed: boolean, seed: number) {
  const x = randomValues(s.batch * s.cin * s.h * s.w, seed),
    w = randomValues(s.cout * s.cin * s.kh * s.kw, seed + 1),
    b = randomValues(s.cout, seed + 2);
  const list: Operand[] = [
    { name: 'x', shape: [s.batch, s.cin, s.h, s.w], values: x },
    { name: 'w', shape: transposed ? [s.cin, s.cout, s.kh, s.kw] : [s.cout, s.cin, s.kh, s.kw], values: w },
    { name: 'b', shape: [s.cout], values: b },
  ];
  return { x, w, b, list };
}

const shape = (
  batch: number,
  cin: number,
  cout: number,
  h: number,
  w: number,
  kh: number,
  kw: number,
  stride: number,
  pad: [number, number],
): Conv2dShape => ({ batch, cin, cout, h, w, kh, kw, stride, pad });

const convCases: Conv2dShape[] = [
  shape(2, 3, 5, 7, 7, 3, 3, 1, [1, 1]), // a UNet's 3x3 'same' conv; 5 rows and 98 columns: partial tiles
  shape(2, 4, 9, 7, 7, 3, 3, 2, [1, 1]), // stride-2 downsampling, 7x7 -> 4x4; 9 rows cross a row tile
  shape(3, 6, 4, 5, 5, 1, 1, 1, [0, 0]), // a 1x1 conv (skip, attention projections)
  shape(2, 1, 8, 6, 6, 3, 3, 1, [1, 1]), // the first conv: one input channel, 9 weight-gradient columns
  shape(2, 2, 3, 5, 6, 3, 2, 1, [1, 0]), // a non-square kernel with padding on the rows only
  shape(2, 3, 4, 5, 8, 3, 3, 1, [1, 1]), // a non-square image: 5 x 8 output pixels (rows and columns walked apart)
  shape(2, 2, 3, 8, 8, 3, 3, 3, [1, 1]), // stride 3, not a power of two: the input gradient divides
  // 3x3 stride 1 with at least 8 input channels: the row-segment kernels (shaders/conv3.wgsl)
  // take all three products where the device has broadcasts (segments of 7 pixels).
  shape(2, 9, 10, 5, 15, 3, 3, 1, [1, 1]), // 15 = 7 + 7 + 1 columns; 9 channels, 10 rows: partial lane and row tiles
  shape(2, 8, 3, 6, 9, 3, 3, 1, [0, 2]), // unequal padding: 4 x 11 outputs, the input gradient padded 2 and 0
  shape(3, 16, 16, 14, 14, 3, 3, 1, [1, 1]), // an MNIST UNet shape: whole segments, two lane groups
  // Strided input gradients by parity classes: a 1x1 stride-2 conv (odd pixels get no gradient)
  // and a 4x4 kernel at stride 2 (two taps per class and axis), odd and even sides.
  shape(2, 3, 4, 7, 6, 1, 1, 2, [0, 0]),
  shape(2, 3, 5, 9, 8, 4, 4, 2, [1, 1]),
  // 782 output pixels: on hardware the weight gradient in 3 chunks of 261, 261 and 260 terms
  shape(2, 3, 4, 23, 17, 3, 3, 1, [1, 1]),
];

const transposeCases: Conv2dShape[] = [
  shape(2, 2, 3, 4, 4, 4, 4, 2, [1, 1]), // 4x4 stride-2 upsampling, 4x4 -> 8x8
  shape(2, 3, 2, 3, 3, 2, 2, 2, [0, 0]), // 2x2 stride 2: 3x3 -> 6x6
  shape(1, 3, 4, 5, 5, 3, 3, 1, [1, 1]), // stride 1, 'same'
  shape(2, 10, 9, 6, 8, 3, 3, 1, [1, 1]), // stride 1 with 9 output channels: the row-segment kernels, with a bias
];

for (const [transposed, cases] of [
  [false, convCases],
  [true, transposeCases],
] as const) {
  const op = transposed ? convTranspose2d : conv2d;
  const opName = transposed ? 'convTranspose2d' : 'conv2d';
  // Each case with the device's kernels and (plain) without subgroup broadcasts, the kernels
  // that read the weight from a transposed copy (test/harness.ts: withKernels).
  for (const s of cases)
    for (const plain of [false, true]) {
      t(`${opName} forward matches float64 at ${label(s)}${plain ? HARDWARE_LABEL : ''}`, async () => {
        const { x, w, b, list } = operands(s, transposed, 1);
        const { values } = await withKernels(plain ? HARDWARE : {}, () =>
          runGraph((g) => {
            const [tx, tw, tb] = list.map((o) => g.input(o.name, o.shape));
            return {
              feeds: [
                [tx, x],
                [tw, w],
                [tb, b],
              ],
              outputs: [op(g, tx, tw, tb, { stride: s.stride, padding: s.pad })],
            };
          }),
        );
        assertClose(values[0], conv2dRef(x, w, b, s, transposed), FWD[0], FWD[1], 'y');
      });
    }
  for (const s of cases.slice(0, 2)) {
    const ref = (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) => conv2dRef(x, w, b, s, transposed);
    t(`${opName} analytic reference gradients match finite differences at ${label(s)}`, () => {
      const { x, w, b } = operands(s, transposed, 7);
      const up = randomValues(ref(x, w, b).length, 10);
      assertGradients(
        conv2dBackward(x, w, up, s, transposed),
        numericGradients(ref, [x, w, b], up),
        REF,
        GRADS,
        'finite differences',
      );
    });
  }
  for (const s of cases)
    for (const plain of [false, true]) {
      t(
        `${opName} gradients of x, w and b match the float64 reference at ${label(s)}${plain ? HARDWARE_LABEL : ''}`,
        async () => {
          const { x, w, list } = operands(s, transposed, 7);
          const { grads, up } = await withKernels(plain ? HARDWARE : {}, () =>
            backward(list, (g, [tx, tw, tb]) => op(g, tx, tw, tb, { stride: s.stride, padding: s.pad }), 10),
          );
          assertGradients(grads, conv2dBackward(x, w, up, s, transposed), BWD, GRADS, 'the analytic reference');
        },
      );
    }
}

t('output sizes follow PyTorch: 28 -> 14 -> 7 by stride-2 convs, 7 -> 14 by a 4x4 transposed conv', () => {
  const g = new Graph('shapes');
  const x = g.input('x', [2, 1, 28, 28]);
  const down = conv2d(g, x, g.input('w1', [4, 1, 3, 3]), g.input('b1', [4]), { stride: 2, padding: 1 });
  const down2 = conv2d(g, down, g.input('w2', [4, 4, 3, 3]), g.input('b2', [4]), { stride: 2, padding: 1 });
  const up = convTranspose2d(g, down2, g.input('w3', [4, 3, 4, 4]), g.input('b3', [3]), { stride: 2, padding: 1 });
  assert.equal(
    [down.shape, down2.shape, up.shape],
    [
      [2, 4, 14, 14],
      [2, 4, 7, 7],
      [2, 3, 14, 14],
    ],
  );
  assert.equal(conv2dSize(shape(1, 1, 1, 28, 28, 3, 3, 2, [1, 1])), [14, 14]);
  assert.equal(convTranspose2dSize(shape(1, 1, 1, 7, 7, 4, 4, 2, [1, 1])), [14, 14]);
});

t('bad shapes are refused with the tensor named', () => {
  const g = new Graph('bad');
  const x = g.input('x', [2, 3, 5, 5]);
  assert.throws(
    () => conv2d(g, g.input('flat', [2, 3, 25]), g.input('w', [4, 3, 3, 3]), g.input('b', [4])),
    /must be \[batch, channels, height, width\]/,
  );
  assert.throws(() => conv2d(g, x, g.input('w2', [4, 2, 3, 3]), g.input('b2', [4])), /weight/);
  assert.throws(
    () => conv2d(g, x, g.input('w3', [4, 3, 7, 7]), g.input('b3', [4])),
    /kernel 7x7 exceeds the padded input 5x5/,
  );
  assert.throws(() => conv2d(g, x, g.input('w4', [4, 3, 3, 3]), g.input('b4', [4]), { stride: 0 }), /stride = 0/);
});

t('gradients add up where x feeds two convs and where x feeds two transposed convs', async () => {
  for (const [transposed, s] of [
    [false, convCases[1]],
    [false, convCases[7]], // the row-segment kernels accumulate into dx
    [true, transposeCases[0]],
  ] as const) {
    const op = transposed ? convTranspose2d : conv2d;
    const { x, w, b, list } = operands(s, transposed, 15);
    const w2 = randomValues(w.length, 40);
    const { grads, up } = await backward(
      [...list, { name: 'w2', shape: list[1].shape, values: w2 }],
      (g, [tx, tw, tb, tw2]) =>
        add(
          g,
          op(g, tx, tw, tb, { stride: s.stride, padding: s.pad }, 'a'),
          op(g, tx, tw2, tb, { stride: s.stride, padding: s.pad }, 'b'),
        ),
      18,
    );
    const [dxA, dwA, dbA] = conv2dBackward(x, w, up, s, transposed);
    const [dxB, dwB, dbB] = conv2dBackward(x, w2, up, s, transposed);
    assertGradients(
      grads,
      [addRef(dxA, dxB), dwA, addRef(dbA, dbB), dwB],
      BWD,
      ['dx', 'dw', 'db', 'dw2'],
      `the analytic reference (${transposed ? 'transposed' : 'conv'})`,
    );
    void b;
  }
});

// A conv of channel-concatenated inputs (conv2d(g, [a, b], ...)): each part against its slice of
// the weight's input channels, summed into y, against the float64 conv of the concatenation; the
// gradients of both parts and of the whole weight, with b also feeding a second conv (its
// gradient accumulated).
const catCases: [Conv2dShape, number][] = [
  [shape(2, 17, 10, 5, 15, 3, 3, 1, [1, 1]), 8], // row segments for every product: 8 + 9 channels
  [shape(2, 8, 3, 6, 6, 3, 3, 1, [1, 1]), 3], // 3 + 5 channels: the weight gradient by implicit GEMM
  [shape(3, 10, 6, 5, 5, 1, 1, 1, [0, 0]), 4], // a 1x1 conv (the skip of a UNet's up block)
  [shape(2, 5, 4, 7, 7, 3, 3, 2, [1, 1]), 2], // stride 2
  [shape(2, 6, 5, 23, 17, 3, 3, 1, [1, 1]), 3], // on hardware each part's weight gradient in 3 chunks
];
for (const [s, ca] of catCases)
  for (const plain of [false, true]) {
    const cb = s.cin - ca;
    const L = s.h * s.w;
    const what = `${label(s)} as ${ca} + ${cb} channels${plain ? HARDWARE_LABEL : ''}`;
    t(`conv2d of concatenated inputs matches float64 forward and gradients at ${what}`, async () => {
      const { w, b } = operands(s, false, 21);
      const xa = randomValues(s.batch * ca * L, 24);
      const xb = randomValues(s.batch * cb * L, 25);
      const w2 = randomValues(s.cout * cb * s.kh * s.kw, 26);
      const x = concatChannelsRef(xa, xb, s.batch, ca, cb, L);
      const list: Operand[] = [
        { name: 'a', shape: [s.batch, ca, s.h, s.w], values: xa },
        { name: 'b', shape: [s.batch, cb, s.h, s.w], values: xb },
        { name: 'w', shape: [s.cout, s.cin, s.kh, s.kw], values: w },
        { name: 'bias', shape: [s.cout], values: b },
        { name: 'w2', shape: [s.cout, cb, s.kh, s.kw], values: w2 },
      ];
      const o = { stride: s.stride, padding: s.pad };
      const { values } = await withKernels(plain ? HARDWARE : {}, () =>
        runGraph((g) => {
          const ts = list.slice(0, 4).map((v) => g.input(v.name, v.shape));
          return {
            feeds: ts.map((tensor, i) => [tensor, list[i].values] as const),
            outputs: [conv2d(g, [ts[0], ts[1]], ts[2], ts[3], o)],
          };
        }),
      );
      assertClose(values[0], conv2dRef(x, w, b, s), FWD[0], FWD[1], 'y');
      const { grads, up } = await withKernels(plain ? HARDWARE : {}, () =>
        backward(
          list,
          (g, [ta, tb, tw, tbias, tw2]) =>
            add(g, conv2d(g, [ta, tb], tw, tbias, o, 'cat'), conv2d(g, tb, tw2, tbias, o, 'second')),
          27,
        ),
      );
      const [dx, dw, db] = conv2dBackward(x, w, up, s);
      const s2 = { ...s, cin: cb };
      const [dxb2, dw2, db2] = conv2dBackward(xb, w2, up, s2);
      const [dxa, dxb] = concatChannelsBackward(dx, s.batch, ca, cb, L);
      assertGradients(
        grads,
        [dxa, addRef(dxb, dxb2), dw, addRef(db, db2), dw2],
        BWD,
        ['da', 'db', 'dw', 'dbias', 'dw2'],
        'the analytic reference',
      );
    });
  }

t('conv2d of concatenated inputs refuses parts that differ in batch or size, or miss the weight', () => {
  const g = new Graph('cat');
  const a = g.input('a', [2, 3, 5, 5]);
  const w = g.input('w', [4, 5, 3, 3]);
  const b = g.input('b', [4]);
  assert.throws(() => conv2d(g, [a, g.input('c', [2, 2, 4, 5])], w, b), /input 1/);
  assert.throws(() => conv2d(g, [a, g.input('d', [3, 2, 5, 5])], w, b), /input 1/);
  assert.throws(() => conv2d(g, [a, g.input('e', [2, 3, 5, 5])], w, b), /weight/);
  assert.throws(() => conv2d(g, [], w, b), /no input/);
});

// upsampleConv2d: the 3x3 conv of the 2x upsampled input (shaders/conv3_up.wgsl: each output
// parity's folded 2x2 kernel; without broadcasts the upsampled map and the conv's kernels) against
// the float64 conv of the upsampled map. Gradients with x feeding two of them (dx and db
// accumulated) and w a third (dw accumulated).
const upCases: [batch: number, cin: number, cout: number, h: number, w: number][] = [
  [2, 9, 10, 5, 8], // 10 x 16 outputs: 8 = 7 + 1 columns a row; partial lane and row tiles
  [3, 3, 5, 4, 4], // fewer input channels than lanes: the weight gradient's idle lanes
  [2, 16, 16, 7, 7], // the MNIST UNet's 7 -> 14 step of the cpu preset
];
const upShape = ([batch, cin, cout, h, w]: (typeof upCases)[number]) =>
  shape(batch, cin, cout, 2 * h, 2 * w, 3, 3, 1, [1, 1]);
/** The float64 op: y = conv(upsample(x)) + b, and its gradients through the conv and the upsampling's sum. */
const upRef = (c: (typeof upCases)[number]) => {
  const s = upShape(c);
  const planes = c[0] * c[1];
  return {
    forward: (x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>) =>
      conv2dRef(upsample2xRef(x, planes, c[3], c[4]), w, b, s),
    backward(x: ArrayLike<number>, w: ArrayLike<number>, up: ArrayLike<number>) {
      const [dup, dw, db] = conv2dBackward(upsample2xRef(x, planes, c[3], c[4]), w, up, s);
      return [upsample2xBackward(dup, planes, c[3], c[4]), dw, db];
    },
  };
};
const upLabel = ([batch, cin, cout, h, w]: (typeof upCases)[number]) =>
  `B=${batch} ${cin}->${cout} ${h}x${w} -> ${2 * h}x${2 * w}`;

t(`upsampleConv2d's analytic reference gradients match finite differences at ${upLabel(upCases[1])}`, () => {
  const c = upCases[1];
  const ref = upRef(c);
  const [B, cin, cout, h, w] = c;
  const x = randomValues(B * cin * h * w, 51),
    wt = randomValues(cout * cin * 9, 52),
    b = randomValues(cout, 53);
  const up = randomValues(B * cout * 4 * h * w, 54);
  assertGradients(
    ref.backward(x, wt, up),
    numericGradients(ref.forward, [x, wt, b], up),
    REF,
    GRADS,
    'finite differences',
  );
});

for (const c of upCases)
  for (const plain of [false, true]) {
    const [B, cin, cout, h, w] = c;
    t(
      `upsampleConv2d matches float64 forward and gradients at ${upLabel(c)}${plain ? HARDWARE_LABEL : ''}`,
      async () => {
        const ref = upRef(c);
        const x = randomValues(B * cin * h * w, 61),
          wt = randomValues(cout * cin * 9, 62),
          b = randomValues(cout, 63),
          w2 = randomValues(cout * cin * 9, 64),
          x2 = randomValues(B * cin * h * w, 65);
        const list: Operand[] = [
          { name: 'x', shape: [B, cin, h, w], values: x },
          { name: 'w', shape: [cout, cin, 3, 3], values: wt },
          { name: 'b', shape: [cout], values: b },
          { name: 'w2', shape: [cout, cin, 3, 3], values: w2 },
          { name: 'x2', shape: [B, cin, h, w], values: x2 },
        ];
        const { values } = await withKernels(plain ? HARDWARE : {}, () =>
          runGraph((g) => {
            const ts = list.slice(0, 3).map((v) => g.input(v.name, v.shape));
            const y = upsampleConv2d(g, ts[0], ts[1], ts[2]);
            assert.equal(y.shape, [B, cout, 2 * h, 2 * w]);
            return { feeds: ts.map((tensor, i) => [tensor, list[i].values] as const), outputs: [y] };
          }),
        );
        assertClose(values[0], ref.forward(x, wt, b), FWD[0], FWD[1], 'y');
        const { grads, up } = await withKernels(plain ? HARDWARE : {}, () =>
          backward(
            list,
            (g, [tx, tw, tb, tw2, tx2]) =>
              add(
                g,
                add(g, upsampleConv2d(g, tx, tw, tb, 'a'), upsampleConv2d(g, tx, tw2, tb, 'b')),
                upsampleConv2d(g, tx2, tw, tb, 'c'),
              ),
            66,
          ),
        );
        const [dxA, dwA, db] = ref.backward(x, wt, up);
        const [dxB, dw2] = ref.backward(x, w2, up);
        const [dx2, dwC] = ref.backward(x2, wt, up);
        assertGradients(
          grads,
          [addRef(dxA, dxB), addRef(dwA, dwC), db.map((v) => 3 * v), dw2, dx2],
          BWD,
          ['dx', 'dw', 'db', 'dw2', 'dx2'],
          'the analytic reference',
        );
      },
    );
  }

t('upsampleConv2d refuses a weight that is not 3x3 over its input channels', () => {
  const g = new Graph('up');
  const x = g.input('x', [2, 3, 4, 4]);
  const b = g.input('b', [4]);
  assert.throws(() => upsampleConv2d(g, x, g.input('w', [4, 3, 5, 5]), b), /weight/);
  assert.throws(() => upsampleConv2d(g, x, g.input('w2', [4, 2, 3, 3]), b), /weight/);
  assert.throws(
    () => upsampleConv2d(g, g.input('flat', [2, 3, 16]), g.input('w3', [4, 3, 3, 3]), b),
    /must be \[batch/,
  );
});

t.run();
