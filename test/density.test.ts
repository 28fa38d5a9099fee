// The time slider's device-side summary of trajectories (src/diffusion/density.ts,
// shaders/density.wgsl): the histogram of every row against a host histogram, points on cell
// edges, outside the grid and NaN included; the sums against float64 ones; the traces; and the
// samplers' trajectories copied on the device against the same trajectories read back.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { testGpu } from './device.js';
import { assertClose, randomValues } from './harness.js';
import { TrajectoryDensity, rowStats, type DensityGrid, type TrajectoryShape } from '../src/diffusion/density.js';
import { TwoPixelTrainer, defaultTrainOptions, sampleFused, visitedTimes } from '../src/diffusion/twopixel.js';
import { defaultTwoPixelConfig } from '../src/models/twopixel/unet.js';

const t = suite('trajectory density');

/**
 * The host histogram [rows, size, size] of points [sets, rows, n, 2]; `cellOf` maps a coordinate
 * to its cell index (possibly outside [0, size), or NaN).
 */
function hostBins(points: Float32Array, s: TrajectoryShape, cellOf: (v: number) => number): Uint32Array {
  const { size } = s.grid;
  const bins = new Uint32Array(s.rows * size * size);
  for (let k = 0; k < s.sets; k++)
    for (let r = 0; r < s.rows; r++)
      for (let j = 0; j < s.n; j++) {
        const at = 2 * ((k * s.rows + r) * s.n + j);
        const gx = cellOf(points[at]);
        const gy = cellOf(points[at + 1]);
        if (gx >= 0 && gx < size && gy >= 0 && gy < size) bins[(r * size + gy) * size + gx]++;
      }
  return bins;
}

/** float64 sums of x, y, x^2, y^2 per set and row. */
function hostSums(points: Float32Array, s: TrajectoryShape): Float64Array {
  const out = new Float64Array(s.sets * s.rows * 4);
  for (let sr = 0; sr < s.sets * s.rows; sr++)
    for (let j = 0; j < s.n; j++) {
      const x = points[2 * (sr * s.n + j)];
      const y = points[2 * (sr * s.n + j) + 1];
      out[4 * sr] += x;
      out[4 * sr + 1] += y;
      out[4 * sr + 2] += x * x;
      out[4 * sr + 3] += y * y;
    }
  return out;
}

/** Random points in ±[0.2, 2] (many outside a grid of [-1.5, 1.5)), then `special` written over the first ones. */
function makePoints(s: TrajectoryShape, seed: number, special: number[]): Float32Array {
  const points = Float32Array.from(randomValues(s.sets * s.rows * s.n * 2, seed), (v) => 2 * v);
  // Spread the special points over every set and row: one every 7 points.
  special.forEach((v, i) => {
    points[(Math.floor(i / 2) * 7 * 2 + (i % 2)) % points.length] = v;
  });
  return points;
}

/** Runs the summary with its outputs poisoned first, so an element the kernels skip shows. */
async function summarize(s: TrajectoryShape, points: Float32Array) {
  const { device } = await testGpu();
  const d = await TrajectoryDensity.create(device, s);
  try {
    d.write(points);
    d.program.fill(d.outputs.bins, 0xffffffff);
    d.program.fill(d.outputs.sums, NaN);
    d.program.fill(d.outputs.lines, NaN);
    const first = await d.summarize();
    // A second run starts its counts from zero again.
    const second = await d.summarize();
    assert.equal(Array.from(second.bins), Array.from(first.bins), 'a second run gives the same bins');
    return first;
  } finally {
    d.destroy();
  }
}

t('bins, sums and traces of every row against float64 on a grid whose edges are exact', async () => {
  // Cells of 1/8 from -1.5: every edge lo + k cell is exact in f32, so float64 floor((v - lo) / cell) is the contract.
  const grid: DensityGrid = { lo: -1.5, cell: 0.125, size: 24 };
  // 301 points per set and row: not a multiple of a workgroup.
  const s: TrajectoryShape = { sets: 2, rows: 3, n: 301, grid, traces: 5 };
  const edges = Array.from({ length: grid.size + 1 }, (_, k) => grid.lo + k * grid.cell);
  const special = [
    // Every edge on x with y on an edge, and the reverse: on an edge a point is in the cell above it.
    ...edges.flatMap((e, k) => [e, edges[(k * 7) % edges.length]]),
    // The lower-left corner is inside, the top and right edges are outside, and just below lo too.
    grid.lo,
    grid.lo,
    1.5,
    0.3,
    0.3,
    1.5,
    Math.fround(grid.lo - 1e-6),
    0.3,
    Math.fround(1.5 - 1e-6),
    Math.fround(1.5 - 1e-6),
  ];
  const points = makePoints(s, 11, special);
  const want = hostBins(points, s, (v) => Math.floor((v - grid.lo) / grid.cell));
  const got = await summarize(s, points);
  assert.equal(Array.from(got.bins), Array.from(want), 'bins');
  // The edge points did land in cells and outside: the test covers both.
  const inside = want.reduce((a, b) => a + b, 0);
  assert.ok(inside > 0.3 * s.sets * s.rows * s.n && inside < 0.9 * s.sets * s.rows * s.n, `${inside} points inside`);
  assert.ok(want[grid.size * grid.size - 1] >= 1, 'the point just inside the top-right corner, in row 0');
  const sums = hostSums(points, s);
  assertClose(got.sums, sums, 1e-4, 1e-5, 'sums');
  for (let r = 0; r < s.rows; r++) {
    const stats = rowStats(got.sums, s, r);
    const row: number[] = [];
    for (let k = 0; k < s.sets; k++)
      row.push(...points.subarray(2 * (k * s.rows + r) * s.n, 2 * (k * s.rows + r + 1) * s.n));
    const mean = row.reduce((a, b) => a + b, 0) / row.length;
    const std = Math.sqrt(row.reduce((a, b) => a + (b - mean) ** 2, 0) / row.length);
    assertClose([stats.mean, stats.std], [mean, std], 1e-5, 1e-5, `row ${r}: mean and std`);
    assertClose(
      stats.setMeans.flat(),
      [sums[4 * r] / s.n, sums[4 * r + 1] / s.n, sums[4 * (s.rows + r)] / s.n, sums[4 * (s.rows + r) + 1] / s.n],
      1e-6,
      1e-5,
      `row ${r}: set means`,
    );
  }
  const traces: number[] = [];
  for (let sr = 0; sr < s.sets * s.rows; sr++) traces.push(...points.subarray(2 * sr * s.n, 2 * (sr * s.n + s.traces)));
  assert.equal(Array.from(got.traces), traces, 'traces: the first points of every set and row');
});

t("the page's grid (cells of 0.065, not exact in binary), with NaN and infinite points outside", async () => {
  const grid: DensityGrid = { lo: -1.2, cell: 2.6 / 40, size: 40 };
  const s: TrajectoryShape = { sets: 1, rows: 4, n: 517, grid, traces: 1 };
  // The edges as f32 values, and the contract in f32: floor((v - lo) * (1 / cell)), each step rounded.
  const lo = Math.fround(grid.lo);
  const inv = Math.fround(1 / grid.cell);
  const edges = Array.from({ length: grid.size + 1 }, (_, k) => Math.fround(grid.lo + k * grid.cell));
  const special = [
    ...edges.flatMap((e) => [e, 0.1]),
    ...edges.flatMap((e) => [-0.4, e]),
    Number.NaN,
    0.2,
    0.2,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    0.2,
    0.2,
    Number.NEGATIVE_INFINITY,
  ];
  const points = makePoints(s, 12, special);
  const want = hostBins(points, s, (v) => Math.floor(Math.fround(Math.fround(v - lo) * inv)));
  const got = await summarize(s, points);
  assert.equal(Array.from(got.bins), Array.from(want), 'bins');
  // In float64 the same points fall the same way except within an f32 rounding of an edge.
  const exact = hostBins(points, s, (v) => Math.floor((v - grid.lo) / grid.cell));
  const differ = want.reduce((a, v, i) => a + Math.abs(v - exact[i]), 0);
  assert.ok(differ <= 4 * edges.length, `${differ} counts differ from float64 edges`);
});

t('a shape that does not fit is refused, naming it', async () => {
  const { device } = await testGpu();
  const grid: DensityGrid = { lo: 0, cell: 1, size: 4 };
  await TrajectoryDensity.create(device, { sets: 1, rows: 2, n: 3, grid, traces: 4 }).then(
    () => assert.unreachable('more traces than trajectories'),
    (e: Error) => assert.match(e.message, /traces 4 exceed the 3 trajectories per set/),
  );
  await TrajectoryDensity.create(device, { sets: 1, rows: 2, n: 3, grid: { ...grid, cell: 0 }, traces: 1 }).then(
    () => assert.unreachable('a cell of 0'),
    (e: Error) => assert.match(e.message, /cells of 0: expected a finite start and cell > 0/),
  );
});

t("the samplers' trajectories copied on the device give the read-back trajectories' bins and sums", async () => {
  const { device } = await testGpu();
  const model = defaultTwoPixelConfig(6);
  const trainer = await TwoPixelTrainer.create(device, { ...defaultTrainOptions(model, 4), batch: 64 });
  try {
    await trainer.train(20);
    const n = 150;
    const base = { model, schedule: 'cosine' as const, n, labels: 0, guidance: 1, seed: 9, record: n, clip: 3 };
    const grid: DensityGrid = { lo: -1.5, cell: 0.125, size: 24 };
    for (const how of [{}, { sampler: 'ddim' as const, sampleSteps: 3, eta: 0 }]) {
      const o = { ...base, ...how };
      const rows = visitedTimes(o).length;
      const read = await sampleFused(device, trainer.program.store, o);
      assert.is(read.trajectory.length, rows * n * 2);
      // Set 1 of two: the copy lands at its offset; set 0 is written from the host.
      const s: TrajectoryShape = { sets: 2, rows, n, grid, traces: 3 };
      const d = await TrajectoryDensity.create(device, s);
      try {
        const other = makePoints({ ...s, sets: 1 }, 13, []);
        d.write([...other, ...new Array<number>(rows * n * 2).fill(Number.NaN)]);
        const copied = await sampleFused(device, trainer.program.store, { ...o, trajectoryTo: d.target(1) });
        assert.is(copied.trajectory.length, 0, 'not read back');
        assert.equal(Array.from(copied.samples), Array.from(read.samples), 'the same samples');
        d.program.fill(d.outputs.bins, 0xffffffff);
        const got = await d.summarize();
        const both = Float32Array.from([...other, ...read.trajectory]);
        const what = JSON.stringify(how);
        assert.equal(
          Array.from(got.bins),
          Array.from(hostBins(both, s, (v) => Math.floor((v - grid.lo) / grid.cell))),
          `${what}: bins`,
        );
        assertClose(got.sums, hostSums(both, s), 1e-4, 1e-5, `${what}: sums`);
      } finally {
        d.destroy();
      }
    }
    const small = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    await sampleFused(device, trainer.program.store, { ...base, trajectoryTo: { buffer: small, size: 16 } }).then(
      () => assert.unreachable('a target of the wrong size'),
      (e: Error) => assert.match(e.message, /trajectoryTo holds 16 bytes/),
    );
    small.destroy();
  } finally {
    trainer.destroy();
  }
});

t.run();
