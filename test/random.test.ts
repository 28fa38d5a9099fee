import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { Graph, type Tensor } from '../src/core/graph.js';
import { Program } from '../src/core/program.js';
import { random, type Distribution } from '../src/core/ops/random.js';
import { philox4x32, seedKey, toIndex, toNormalPair, toUniform } from '../src/core/philox.js';
import { assertClose } from './harness.js';
import { testGpu } from './device.js';
import { STREAM_TRAIN, twoPixelBatch } from '../src/diffusion/ops.js';
import { scheduleTable, scheduleValue, SCHEDULE_WIDTH } from '../src/diffusion/tables.js';
import { MIXTURE } from '../src/data/mixture.js';

// What is compared. Uniform and randint: bit-equal to src/core/philox.ts (both are integer
// arithmetic and one exact conversion). Normal: f32 log, sqrt and cos on the device against
// float64 in TS: atol 1e-5 + rtol 1e-5 (the 1e-5 of the brief, plus a relative part for the
// tail, where r = sqrt(-2 ln u) reaches 5.8). Moments at n = 2^16 within about five standard
// errors; Kolmogorov-Smirnov D below 1.63 / sqrt(n), the 1% critical value.

const t = suite('random');
const SEED = 1234567;
const N = 1 << 16;

/** Compiles a graph of one random draw per distribution (all kept) and the given seed. */
async function draws(
  shape: number[],
  dists: [Distribution, number][],
  seed = SEED,
): Promise<{ program: Program; outs: Tensor[] }> {
  const { device } = await testGpu();
  const g = new Graph('random');
  const outs = dists.map(([d, stream], i) => random(g, shape, d, stream, `draw${i}`));
  const program = await Program.compile(device, g, { seed, keep: outs });
  for (const o of outs) program.fill(o, o.dtype === 'u32' ? 0xdeadbeef : NaN);
  return { program, outs };
}

/** The four Philox words of element i of a draw at (stream, step) under `seed`. */
const words = (i: number, stream: number, step: number, seed = SEED) => philox4x32([i, stream, step, 0], seedKey(seed));

t('philox4x32 matches the Random123 known-answer vectors for Philox4x32-10', () => {
  const hex = (w: ArrayLike<number>) => Array.from(w, (x) => x.toString(16).padStart(8, '0')).join(' ');
  assert.is(hex(philox4x32([0, 0, 0, 0], [0, 0])), '6627e8d5 e169c58d bc57ac4c 9b00dbd8');
  assert.is(
    hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff])),
    '408f276d 41c83b0e a20bc7c6 6d5451fd',
  );
  assert.is(
    hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0])),
    'd16cfe09 94fdcceb 5001e420 24126ea1',
  );
});

t('uniform and randint are bit-equal to the TS twin at counter (i, stream, step, 0)', async () => {
  const { program, outs } = await draws(
    [7, 300],
    [
      [{ kind: 'uniform' }, 3],
      [{ kind: 'randint', low: 5, high: 1005 }, 4],
      [{ kind: 'randint', low: 0, high: 3 }, 5],
    ],
  );
  for (let step = 0; step < 2; step++) {
    program.run(1);
    const [u, r, c] = await Promise.all(outs.map((o) => program.read(o)));
    const n = outs[0].size;
    assert.equal(
      [...u],
      Array.from({ length: n }, (_, i) => Math.fround(toUniform(words(i, 3, step)[0]))),
      `uniform at step ${step}`,
    );
    assert.equal(
      [...r],
      Array.from({ length: n }, (_, i) => 5 + toIndex(words(i, 4, step)[0], 1000)),
      `randint [5, 1005) at step ${step}`,
    );
    assert.equal(
      [...c],
      Array.from({ length: n }, (_, i) => toIndex(words(i, 5, step)[0], 3)),
      `randint [0, 3) at step ${step}`,
    );
  }
  program.destroy();
});

t('normal is close to toNormalPair(...)[0] and honours mean and std', async () => {
  const { program, outs } = await draws(
    [N],
    [
      [{ kind: 'normal' }, 7],
      [{ kind: 'normal', mean: 2, std: 3 }, 7],
    ],
  );
  program.run(1);
  const [z, y] = await Promise.all(outs.map((o) => program.readF32(o)));
  const want = Array.from({ length: N }, (_, i) => {
    const w = words(i, 7, 0);
    return toNormalPair(w[0], w[1])[0];
  });
  assertClose(z, want, 1e-5, 1e-5, 'N(0, 1)');
  assertClose(
    y,
    want.map((v) => 2 + 3 * v),
    3e-5,
    1e-5,
    'N(2, 3^2)',
  );
  program.destroy();
});

// The training batch of shaders/twopixel_draw.wgsl (the op-by-op batch; the fused kernel is
// tested against it in twopixel.test.ts) against its TS twin: class, t and the dropped label
// bit-equal; x_t and eps to f32 tolerance.
t('the on-device two-pixel training batch is the TS twin of its draws', async () => {
  const { device } = await testGpu();
  const B = 4096,
    T = 10,
    pUncond = 0.3;
  const g = new Graph('batch');
  const schedule = g.input('schedule', [T + 1, SCHEDULE_WIDTH]);
  const b = twoPixelBatch(g, B, T, schedule, pUncond);
  const outs = [b.x, b.eps, b.t, b.y];
  const program = await Program.compile(device, g, { seed: SEED, keep: outs });
  const table = scheduleTable('cosine', T);
  program.write(schedule, table);
  for (const o of outs) program.fill(o, o.dtype === 'u32' ? 0xdeadbeef : NaN);
  program.setSeed(SEED, 2); // step 2 of the run
  program.run(1);
  const [x, eps, ts, ys] = await Promise.all(outs.map((o) => program.read(o)));
  const [c0, c1] = MIXTURE.components;
  const wantX = new Float64Array(2 * B),
    wantEps = new Float64Array(2 * B);
  const wantT: number[] = [],
    wantY: number[] = [];
  for (let i = 0; i < B; i++) {
    const data = words(i, STREAM_TRAIN, 2),
      noise = words(i, STREAM_TRAIN + 1, 2);
    const cls = toUniform(data[0]) < Math.fround(c0.weight) ? 0 : 1;
    const z = toNormalPair(data[1], data[2]);
    const e = toNormalPair(noise[2], noise[3]);
    const step = 1 + toIndex(noise[0], T);
    const mean = (cls === 0 ? c0 : c1).mean;
    for (const d of [0, 1]) {
      const x0 = mean[d] + MIXTURE.sigma * z[d];
      wantX[2 * i + d] = scheduleValue(table, step, 'sqrt_ab') * x0 + scheduleValue(table, step, 'sqrt_1m_ab') * e[d];
      wantEps[2 * i + d] = e[d];
    }
    wantT.push(step);
    wantY.push(toUniform(noise[1]) < Math.fround(pUncond) ? 2 : cls);
  }
  assert.equal([...ts], wantT, 't');
  assert.equal([...ys], wantY, 'labels');
  assertClose(x, wantX, 1e-5, 1e-5, 'x_t');
  assertClose(eps, wantEps, 1e-5, 1e-5, 'eps');
  const dropped = wantY.filter((y) => y === 2).length / B;
  assert.ok(Math.abs(dropped - pUncond) < 4 * Math.sqrt((pUncond * (1 - pUncond)) / B), `dropped ${dropped}`);
  program.destroy();
  program.store.destroy();
});

/** The standard normal CDF, from erfc (Numerical Recipes' Chebyshev fit, |error| < 1.2e-7). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const s = 1 / (1 + 0.5 * z);
  const erfc =
    s *
    Math.exp(
      -z * z -
        1.26551223 +
        s *
          (1.00002368 +
            s *
              (0.37409196 +
                s *
                  (0.09678418 +
                    s *
                      (-0.18628806 +
                        s *
                          (0.27886807 + s * (-1.13520398 + s * (1.48851587 + s * (-0.82215223 + s * 0.17087277)))))))),
    );
  return x >= 0 ? 1 - 0.5 * erfc : 0.5 * erfc;
}

t('normal passes a moment check and a Kolmogorov-Smirnov test against N(0, 1) at n = 2^16', async () => {
  const { program, outs } = await draws([N], [[{ kind: 'normal' }, 9]]);
  program.run(1);
  const z = Float64Array.from(await program.readF32(outs[0]));
  let mean = 0;
  for (const v of z) mean += v / N;
  let m2 = 0,
    m3 = 0,
    m4 = 0;
  for (const v of z) {
    const d = v - mean;
    m2 += (d * d) / N;
    m3 += d ** 3 / N;
    m4 += d ** 4 / N;
  }
  const skew = m3 / m2 ** 1.5,
    kurtosis = m4 / m2 ** 2;
  // Standard errors at n = 2^16: mean 0.0039, variance 0.0055, skew 0.0096, kurtosis 0.019.
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(m2 - 1) < 0.03, `variance ${m2}`);
  assert.ok(Math.abs(skew) < 0.05, `skew ${skew}`);
  assert.ok(Math.abs(kurtosis - 3) < 0.1, `kurtosis ${kurtosis}`);
  z.sort();
  let D = 0;
  for (let i = 0; i < N; i++) {
    const F = normalCdf(z[i]);
    D = Math.max(D, (i + 1) / N - F, F - i / N);
  }
  assert.ok(D < 1.63 / Math.sqrt(N), `Kolmogorov-Smirnov D = ${D}, 1% critical value ${1.63 / Math.sqrt(N)}`);
  program.destroy();
});

t('different streams, steps and seeds give different numbers', async () => {
  const count = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).filter((v, i) => v === b[i]).length;
  const { program, outs } = await draws(
    [1024],
    [
      [{ kind: 'uniform' }, 0],
      [{ kind: 'uniform' }, 1],
    ],
  );
  program.run(1);
  const [s0, s1] = await Promise.all(outs.map((o) => program.read(o)));
  program.run(1);
  const next = await program.read(outs[0]);
  program.destroy();
  const other = await draws([1024], [[{ kind: 'uniform' }, 0]], SEED + 1);
  other.program.run(1);
  const seeded = await other.program.read(other.outs[0]);
  other.program.destroy();
  // Two independent 24-bit uniforms agree with probability 2^-24: any equal pair is suspect.
  assert.is(count(s0, s1), 0, 'stream 0 vs stream 1');
  assert.is(count(s0, next), 0, 'step 0 vs step 1');
  assert.is(count(s0, seeded), 0, 'seed vs seed + 1');
});

t('setSeed rewinds: the same seed and step give the same draw again', async () => {
  const { program, outs } = await draws([512], [[{ kind: 'normal' }, 2]]);
  program.run(3);
  const third = await program.read(outs[0]);
  program.setSeed(SEED, 2);
  program.fill(outs[0], NaN);
  program.run(1);
  assert.equal([...(await program.read(outs[0]))], [...third]);
  program.destroy();
});

t.run();
