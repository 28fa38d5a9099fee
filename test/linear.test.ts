import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { emitMatmul, linear } from '../src/core/ops/linear.js';
import { testGpu } from './device.js';
import { defaultKernelConfig, kernelConfig, setKernelConfig, type MatmulVariant } from '../src/core/config.js';
import { add } from '../src/core/ops/elementwise.js';
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
import { addRef, linearBackward, linearRef } from './reference.js';

// Tolerances. Forward: a K-term f32 dot product of values in ±1: atol 1e-5 + rtol 1e-5.
// Backward: f32 sums over M or N (up to 40 terms): atol 1e-4 + rtol 1e-4 against central
// differences of the float64 reference (h = 1e-5) and against its analytic backward. That
// analytic backward against central differences (both float64, the forward linear in each
// input) differs by roundoff only (<~ 5e-9 at 33x17x40): atol 1e-8 + rtol 1e-7.
const FWD = [1e-5, 1e-5] as const;
const BWD = [1e-4, 1e-4] as const;
const REF = [1e-8, 1e-7] as const;
const GRADS = ['dx', 'dw', 'db'];

const t = suite('linear');

// Each kernel variant on its own (the variant is read when a graph compiles). 'blocked' reads B
// as vec4s where N is a multiple of 4 (N = 40, 72, 128 here) and gathers it otherwise; N = 72 and
// 130 span two column tiles of 64, M = 33 five row tiles of 8, the last one partial. On a device
// with subgroups of 8 (lavapipe) 'blocked' reads A through subgroup broadcasts (matmul_asg.wgsl);
// 'blocked-plain' turns them off, for the kernels every other CPU driver runs (A a float per row,
// or vec4s where A is stored transposed, or a transposed copy for large products).
type Variant = MatmulVariant | 'blocked-plain';
const VARIANTS: Variant[] = ['tiled', 'blocked', 'blocked-plain'];
const variantConfig = (v: Variant) =>
  v === 'tiled'
    ? { matmul: 'tiled' as const }
    : v === 'blocked-plain'
      ? { matmul: 'blocked' as const, broadcasts: false }
      : { matmul: 'blocked' as const };
const withVariant = <T>(v: Variant, run: () => Promise<T>): Promise<T> => withKernels(variantConfig(v), run);
const standIn = (features: string[], info: Partial<GPUAdapterInfo>) =>
  ({ features: new Set(features), adapterInfo: info }) as unknown as GPUDevice;
const lavapipe = { description: 'llvmpipe (LLVM 15.0.6)', subgroupMinSize: 8, subgroupMaxSize: 8 };

t('broadcasts are for software adapters whose subgroups are exactly 8 lanes', () => {
  const broadcasts = (d: GPUDevice) => defaultKernelConfig(d).broadcasts;
  assert.is(broadcasts(standIn(['subgroups'], lavapipe)), true);
  assert.is(broadcasts(standIn([], lavapipe)), false, 'without the subgroups feature');
  assert.is(
    broadcasts(standIn(['subgroups'], { ...lavapipe, subgroupMinSize: 4, subgroupMaxSize: 4 })),
    false,
    'subgroups of 4',
  );
  assert.is(broadcasts(standIn(['subgroups'], { ...lavapipe, subgroupMaxSize: 16 })), false, 'subgroups of 8 to 16');
  assert.is(
    broadcasts(
      standIn(['subgroups'], {
        vendor: 'nvidia',
        architecture: 'hopper',
        description: 'NVIDIA H200',
        subgroupMinSize: 8,
        subgroupMaxSize: 8,
      }),
    ),
    false,
    'a GPU',
  );
  const device = standIn(['subgroups'], lavapipe);
  setKernelConfig(device, { broadcasts: false });
  assert.is(kernelConfig(device).broadcasts, false, 'turned off');
  setKernelConfig(device, null);
  assert.is(kernelConfig(device).broadcasts, true, 'back to the default');
});

t(
  'blocked kernels read A through subgroup broadcasts where the device has subgroups of 8, and not when turned off',
  async () => {
    const gpu = await testGpu();
    const names = async (v: Variant) =>
      (
        await withVariant(v, () =>
          runGraph((g) => {
            const x = g.input('x', [9, 12]),
              w = g.input('w', [12, 16]);
            return {
              feeds: [
                [x, randomValues(9 * 12, 41)],
                [w, randomValues(12 * 16, 42)],
              ],
              outputs: [linear(g, x, w, null)],
            };
          }),
        )
      ).program.info
        .map((d) => d.kernel)
        .filter((k) => k.startsWith('matmul'));
    assert.equal(await names('blocked'), [
      defaultKernelConfig(gpu.device).broadcasts ? 'matmul_blocked.matmul_b4_sg_c4' : 'matmul_blocked.matmul_b4_c4',
    ]);
    assert.equal(await names('blocked-plain'), ['matmul_blocked.matmul_b4_c4']);
    assert.throws(
      () => setKernelConfig(standIn([], lavapipe), { broadcasts: true }),
      /this device has no subgroups of 8 lanes for broadcasts/,
    );
  },
);

t('each adapter kind gets its default matmul variant; setKernelConfig overrides it until reset', () => {
  const kinds: [Partial<GPUAdapterInfo>, MatmulVariant][] = [
    [{ vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H200' }, 'tiled'],
    [lavapipe, 'blocked'],
    [{ vendor: 'google', description: 'SwiftShader Device (Subzero)' }, 'blocked'],
    [{ architecture: 'software', description: 'a CPU' }, 'blocked'],
  ];
  for (const [info, variant] of kinds)
    assert.is(defaultKernelConfig(standIn([], info)).matmul, variant, info.description);
  const device = standIn([], lavapipe);
  setKernelConfig(device, { matmul: 'tiled' });
  assert.is(kernelConfig(device).matmul, 'tiled');
  assert.is(kernelConfig(device, { matmul: 'blocked' }).matmul, 'blocked', "a program's own config over the device's");
  setKernelConfig(device, null);
  assert.is(kernelConfig(device).matmul, 'blocked');
  assert.throws(
    () => setKernelConfig(device, { matmul: 'fast' as MatmulVariant }),
    /matmul variant "fast" is not one of tiled, blocked/,
  );
});

for (const variant of VARIANTS) {
  for (const [M, K, N] of [
    [5, 7, 3],
    [33, 17, 72],
    [9, 33, 130],
    [51, 40, 128],
  ]) {
    t(`${variant} forward matches float64 at M=${M} K=${K} N=${N}`, async () => {
      const x = randomValues(M * K, 1),
        w = randomValues(K * N, 2),
        b = randomValues(N, 3);
      const { values } = await withVariant(variant, () =>
        runGraph((g) => {
          const tx = g.input('x', [M, K]),
            tw = g.input('w', [K, N]),
            tb = g.input('b', [N]);
          return {
            feeds: [
              [tx, x],
              [tw, w],
              [tb, b],
            ],
            outputs: [linear(g, tx, tw, tb), linear(g, tx, tw, null, 'nobias')],
          };
        }),
      );
      assertClose(values[0], linearRef(x, w, b, M, K, N), FWD[0], FWD[1], 'y');
      assertClose(values[1], linearRef(x, w, new Float32Array(N), M, K, N), FWD[0], FWD[1], 'y without bias');
    });
  }
}

// The addressing emitMatmul offers beyond linear(): two batches of A and B read from one tensor
// at start offsets, A column-major, and C stored transposed at an offset with a gap between its
// batches (what the fused two-pixel loss uses); the floats around C stay unwritten (NaN).
// 'blocked-plain' reads A as vec4s where its offset, strides and size are multiples of 4 (aOff 4 with
// M = 12: two row tiles, the second reading four rows past M; with N = 72 B as vec4s too, with
// N = 30 B one float per column) and one float per row otherwise.
for (const variant of VARIANTS) {
  for (const [M, K, N, aOff] of [
    [12, 37, 72, 3],
    [12, 37, 72, 4],
    [12, 37, 30, 4],
    [9, 20, 30, 3],
  ]) {
    t(
      `${variant} batched product at offsets with C transposed matches float64 at M=${M} K=${K} N=${N}, A from ${aOff}`,
      async () => {
        const bOff = 2 * M * K + 8; // B's offset a multiple of 4 (blocked reads it as vec4s when N is)
        const cOff = 5,
          gap = 3;
        const data = randomValues(bOff + 2 * K * N, 8);
        const { values } = await withVariant(variant, () =>
          runGraph((g) => {
            const src = g.input('src', [data.length]);
            const c = g.activation('c', [cOff + 2 * N * M + gap]);
            g.add({
              type: 'test_matmul',
              inputs: [src],
              outputs: [c],
              forward: (e) =>
                emitMatmul(
                  e,
                  src,
                  src,
                  c,
                  {
                    m: M,
                    n: N,
                    k: K,
                    batch: 2,
                    a: { sm: 1, sk: M, sb: M * K, off: aOff },
                    b: { sk: N, sn: 1, sb: K * N, off: bOff },
                    c: { sm: 1, sn: M, sb: N * M + gap, off: cOff },
                  },
                  0,
                ),
            });
            return { feeds: [[src, data]], outputs: [c] };
          }),
        );
        const want = new Float64Array(cOff + 2 * N * M + gap).fill(NaN);
        for (let b = 0; b < 2; b++) {
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              let sum = 0;
              for (let k = 0; k < K; k++)
                sum += data[aOff + b * M * K + k * M + m] * data[bOff + b * K * N + k * N + n];
              want[cOff + b * (M * N + gap) + n * M + m] = sum;
            }
          }
        }
        const written = [...want.keys()].filter((i) => !Number.isNaN(want[i]));
        assertClose(
          written.map((i) => values[0][i]),
          written.map((i) => want[i]),
          FWD[0],
          FWD[1],
          'C',
        );
        assert.ok(
          values[0].every((v, i) => Number.isNaN(v) === Number.isNaN(want[i])),
          'C: the floats around and between its batches stay unwritten',
        );
      },
    );
  }
}

// Large products (at least 2^24 multiply-adds, N >= 256) whose A is not stored transposed read
// it through a transposed copy in 'blocked-plain' (shaders/transpose.wgsl: M = 33 pads to 36 rows; A
// at an offset with a gap between batches; a bias; N = 257 reads B one float per column). Sums
// of K = 1000-2000 products of values in ±1 (|C| up to ~40): f32 roundoff stays near 1e-4, one
// missing or wrong term is at least 0.01.
for (const variant of ['blocked', 'blocked-plain'] as const)
  t(`${variant} large products match float64 (without broadcasts: through a transposed copy of A)`, async () => {
    for (const [M, K, N, batch, aOff, gap] of [
      [33, 2000, 257, 1, 0, 0],
      [33, 2000, 256, 1, 0, 0],
      [9, 1000, 1024, 2, 3, 5],
    ]) {
      const aSize = aOff + batch * (M * K + gap);
      const a = randomValues(aSize, 21),
        w = randomValues(batch * K * N, 22),
        bias = randomValues(N, 23);
      const { values } = await withVariant(variant, () =>
        runGraph((g) => {
          const ta = g.input('a', [aSize]),
            tw = g.input('w', [batch * K * N]),
            tb = g.input('b', [N]);
          const c = g.activation('c', [batch, M, N]);
          g.add({
            type: 'test_big_matmul',
            inputs: [ta, tw, tb],
            outputs: [c],
            forward: (e) =>
              emitMatmul(
                e,
                ta,
                tw,
                c,
                {
                  m: M,
                  n: N,
                  k: K,
                  batch,
                  a: { sm: K, sk: 1, sb: M * K + gap, off: aOff },
                  b: { sk: N, sn: 1, sb: K * N },
                },
                0,
                tb,
              ),
          });
          return {
            feeds: [
              [ta, a],
              [tw, w],
              [tb, bias],
            ],
            outputs: [c],
          };
        }),
      );
      const want = new Float64Array(batch * M * N);
      for (let b = 0; b < batch; b++) {
        const x = a.subarray(aOff + b * (M * K + gap), aOff + b * (M * K + gap) + M * K);
        want.set(linearRef(x, w.subarray(b * K * N, (b + 1) * K * N), bias, M, K, N), b * M * N);
      }
      assertClose(values[0], want, 1e-3, 1e-4, `C at M=${M} K=${K} N=${N} batch ${batch}`);
    }
  });

// A bias added to the first rows only (the fused two-pixel table adds the block projection's
// bias to its step rows, not its class rows): M = 13 spans two row tiles of the blocked kernel.
for (const variant of VARIANTS) {
  t(`${variant} bias on the first rows only matches float64`, async () => {
    const [M, K, N, R] = [13, 9, 24, 10];
    const x = randomValues(M * K, 11),
      w = randomValues(K * N, 12),
      b = randomValues(N, 13);
    const { values } = await withVariant(variant, () =>
      runGraph((g) => {
        const tx = g.input('x', [M, K]),
          tw = g.input('w', [K, N]),
          tb = g.input('b', [N]);
        const y = g.activation('y', [M, N]);
        g.add({
          type: 'test_bias_rows',
          inputs: [tx, tw, tb],
          outputs: [y],
          forward: (e) =>
            emitMatmul(
              e,
              tx,
              tw,
              y,
              { m: M, n: N, k: K, a: { sm: K, sk: 1 }, b: { sk: N, sn: 1 }, biasRows: R },
              0,
              tb,
            ),
        });
        return {
          feeds: [
            [tx, x],
            [tw, w],
            [tb, b],
          ],
          outputs: [y],
        };
      }),
    );
    const want = linearRef(x, w, b, M, K, N);
    const plain = linearRef(x, w, new Float64Array(N), M, K, N);
    for (let i = R * N; i < M * N; i++) want[i] = plain[i];
    assertClose(values[0], want, FWD[0], FWD[1], 'y');
  });
}

// K = 20: the weight gradient x^T dy reads x as vec4s in 'blocked-plain' (rows 16..23 a partial tile).
for (const [M, K, N] of [
  [5, 7, 3],
  [33, 17, 40],
  [33, 20, 40],
  [1, 64, 1],
]) {
  // The gradient case, shared by the reference check and the GPU test: backward() draws the same
  // upstream gradient from seed 7, and the central differences (~0.2 s at 33x17x40) run once.
  const x = randomValues(M * K, 4),
    w = randomValues(K * N, 5),
    b = randomValues(N, 6),
    up = randomValues(M * N, 7);
  const finiteDifferences = once(() => numericGradients((xv, wv, bv) => linearRef(xv, wv, bv, M, K, N), [x, w, b], up));

  t(`analytic reference backward matches finite differences at M=${M} K=${K} N=${N}`, () => {
    assertGradients(linearBackward(x, w, up, M, K, N), finiteDifferences(), REF, GRADS, 'finite differences');
  });

  for (const variant of VARIANTS) {
    t(`${variant} backward matches the analytic reference and finite differences at M=${M} K=${K} N=${N}`, async () => {
      const { grads, up: drawn } = await withVariant(variant, () =>
        backward(
          [
            { name: 'x', shape: [M, K], values: x },
            { name: 'w', shape: [K, N], values: w },
            { name: 'b', shape: [N], values: b },
          ],
          (g, [tx, tw, tb]) => linear(g, tx, tw, tb),
          7,
        ),
      );
      assertClose(drawn, up, 0, 0, 'upstream gradient');
      assertGradients(grads, linearBackward(x, w, up, M, K, N), BWD, GRADS, 'the analytic reference');
      assertGradients(grads, finiteDifferences(), BWD, GRADS, 'finite differences');
    });
  }
}

// One weight and bias in two linears: the second weight-gradient product adds onto the first
// (C += ...). N = 40 stores C as vec4s in 'blocked', N = 30 one float per column.
for (const variant of VARIANTS) {
  for (const N of [40, 30]) {
    t(`${variant} gradients accumulate where W and b serve two linears (N = ${N})`, async () => {
      const [M, K] = [6, 12];
      const x1 = randomValues(M * K, 31),
        x2 = randomValues(M * K, 32),
        w = randomValues(K * N, 33),
        b = randomValues(N, 34);
      const { grads, up } = await withVariant(variant, () =>
        backward(
          [
            { name: 'x1', shape: [M, K], values: x1 },
            { name: 'x2', shape: [M, K], values: x2 },
            { name: 'w', shape: [K, N], values: w },
            { name: 'b', shape: [N], values: b },
          ],
          (g, [t1, t2, tw, tb]) => add(g, linear(g, t1, tw, tb, 'first'), linear(g, t2, tw, tb, 'second')),
          35,
        ),
      );
      const [dx1, dw1, db1] = linearBackward(x1, w, up, M, K, N);
      const [dx2, dw2, db2] = linearBackward(x2, w, up, M, K, N);
      assertGradients(
        grads,
        [dx1, dx2, addRef(dw1, dw2), addRef(db1, db2)],
        BWD,
        ['dx1', 'dx2', 'dw', 'db'],
        'the analytic reference (both linears add to dw, db)',
      );
    });
  }
}

t.run();
