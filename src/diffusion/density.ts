// What the demo's time slider draws of recorded two-pixel trajectories, computed on the device
// where the sampler left them (shaders/density.wgsl): the histogram of x at every visited step on
// a square grid, the sums that give each step's mean and spread, and the first few trajectories.
// The host reads back these, never the trajectories themselves.
import code from '../../shaders/density.wgsl';
import { shaderModule } from '../core/kernel.js';
import { Graph, type Tensor } from '../core/graph.js';
import { Program } from '../core/program.js';
import { positiveInt } from '../core/ops/util.js';

const DENSITY = shaderModule({
  name: 'density',
  source: code,
  bindings: {
    points: 'read vec2f',
    bins: 'read_write atomic<u32>',
    sums: 'read_write vec4f',
    lines: 'read_write vec2f',
  },
  params: { sets: 'u32', rows: 'u32', n: 'u32', grid: 'u32', lo: 'f32', inv_cell: 'f32', traces: 'u32' },
});
const ZERO = DENSITY.kernel('zero', { uses: ['bins'] });
const HISTOGRAM = DENSITY.kernel('histogram', { uses: ['points', 'bins'] });
const MOMENTS = DENSITY.kernel('moments', { uses: ['points', 'sums'] });
const TRACES = DENSITY.kernel('traces', { uses: ['points', 'lines'] });

/**
 * A square grid of `size` x `size` cells of side `cell` from (lo, lo). A point is in cell
 * (floor((x - lo) / cell), floor((y - lo) / cell)) where both are in [0, size), computed in f32 as
 * (x - lo) * (1 / cell): with a power-of-two cell and lo a multiple of it, a point on an edge lies
 * in the cell above it, and one on the top or right edge of the grid is outside.
 */
export interface DensityGrid {
  lo: number;
  cell: number;
  size: number;
}

export interface TrajectoryShape {
  /** Sets of trajectories (e.g. one per label of a shared-noise pair), each [rows, n, 2]. */
  sets: number;
  /** Visited steps per trajectory, x_T first (the sampler's S + 1). */
  rows: number;
  /** Trajectories per set. */
  n: number;
  grid: DensityGrid;
  /** Trajectories per set read back whole, to draw as lines (at most n). */
  traces: number;
}

/** What `summarize` reads back. */
export interface TrajectorySummary {
  /** [rows, size, size]: per row, the count of every set's points in each cell, row-major from (lo, lo). */
  bins: Uint32Array;
  /** [sets, rows, 4]: per set and row, the sums of x, y, x^2 and y^2 over its n points. */
  sums: Float32Array;
  /** [sets, rows, traces, 2]: the first `traces` points of every set and row. */
  traces: Float32Array;
}

/** The op: bins, sums and traces of points [sets, rows, n, 2]. */
function summarizeOp(g: Graph, points: Tensor, s: TrajectoryShape) {
  const { sets, rows, n, grid } = s;
  const bins = g.activation('density.bins', [rows, grid.size, grid.size], 'u32');
  const sums = g.activation('density.sums', [sets, rows, 4]);
  const lines = g.activation('density.traces', [sets, rows, s.traces, 2]);
  const params = {
    sets,
    rows,
    n,
    grid: grid.size,
    lo: grid.lo,
    inv_cell: 1 / grid.cell,
    traces: s.traces,
  };
  g.add({
    type: 'density.summarize',
    inputs: [points],
    outputs: [bins, sums, lines],
    forward: (e) => {
      e.dispatch(ZERO, { bins }, params, rows * grid.size * grid.size);
      e.dispatch(HISTOGRAM, { points, bins }, params, sets * rows * n);
      e.dispatch(MOMENTS, { points, sums }, params, { workgroups: [sets * rows, 1, 1] });
      e.dispatch(TRACES, { points, lines }, params, sets * rows * s.traces);
    },
  });
  return { bins, sums, lines };
}

function checkShape(s: TrajectoryShape): void {
  positiveInt(s.sets, 'trajectory sets');
  positiveInt(s.rows, 'trajectory rows');
  positiveInt(s.n, 'trajectories per set');
  positiveInt(s.grid.size, 'density grid size');
  positiveInt(s.traces, 'traces');
  if (s.traces > s.n) throw new Error(`traces ${s.traces} exceed the ${s.n} trajectories per set`);
  if (!(Number.isFinite(s.grid.lo) && s.grid.cell > 0 && Number.isFinite(1 / s.grid.cell)))
    throw new Error(
      `density grid from ${s.grid.lo} with cells of ${s.grid.cell}: expected a finite start and cell > 0`,
    );
  // One workgroup per (set, row) sums it.
  if (s.sets * s.rows > 65535) throw new Error(`${s.sets} sets of ${s.rows} rows exceed 65535 workgroups`);
}

/**
 * Recorded trajectories on the device and what a page draws of them. A sampler copies each set
 * into `target(k)` (SampleOptions.trajectoryTo); `summarize` bins and sums every row in one submit
 * and reads back only the bins, the sums and the traces.
 */
export class TrajectoryDensity {
  private constructor(
    readonly shape: TrajectoryShape,
    readonly program: Program,
    /** The trajectories [sets, rows, n, 2]. */
    readonly points: Tensor,
    readonly outputs: { bins: Tensor; sums: Tensor; lines: Tensor },
  ) {}

  static async create(device: GPUDevice, shape: TrajectoryShape): Promise<TrajectoryDensity> {
    checkShape(shape);
    const g = new Graph('trajectory density');
    const points = g.input('points', [shape.sets, shape.rows, shape.n, 2]);
    const outputs = summarizeOp(g, points, shape);
    const program = await Program.compile(device, g, { keep: [outputs.bins, outputs.sums, outputs.lines] });
    return new TrajectoryDensity(shape, program, points, outputs);
  }

  /** Where set k's trajectories [rows, n, 2] go. */
  target(k: number): GPUBufferBinding {
    if (!Number.isInteger(k) || k < 0 || k >= this.shape.sets)
      throw new Error(`trajectory set ${k}: expected 0 to ${this.shape.sets - 1}`);
    const b = this.program.binding(this.points);
    const bytes = this.shape.rows * this.shape.n * 2 * 4;
    return { buffer: b.buffer, offset: (b.offset ?? 0) + k * bytes, size: bytes };
  }

  /** Writes every set's trajectories from the host, [sets, rows, n, 2]. */
  write(points: ArrayLike<number>): void {
    this.program.write(this.points, points);
  }

  async summarize(): Promise<TrajectorySummary> {
    this.program.run(1);
    const [bins, sums, traces] = await Promise.all([
      this.program.read(this.outputs.bins),
      this.program.readF32(this.outputs.sums),
      this.program.readF32(this.outputs.lines),
    ]);
    return { bins: bins as Uint32Array, sums, traces };
  }

  destroy(): void {
    this.program.destroy();
    this.program.store.destroy();
  }
}

/**
 * Row `row`'s statistics from the sums (in float64): the mean and standard deviation of both
 * coordinates of every set's points together, and each set's mean point.
 */
export function rowStats(
  sums: ArrayLike<number>,
  shape: Pick<TrajectoryShape, 'sets' | 'rows' | 'n'>,
  row: number,
): { mean: number; std: number; setMeans: [number, number][] } {
  let total = 0;
  let squares = 0;
  const setMeans: [number, number][] = [];
  for (let k = 0; k < shape.sets; k++) {
    const at = 4 * (k * shape.rows + row);
    total += sums[at] + sums[at + 1];
    squares += sums[at + 2] + sums[at + 3];
    setMeans.push([sums[at] / shape.n, sums[at + 1] / shape.n]);
  }
  const count = 2 * shape.sets * shape.n;
  const mean = total / count;
  return { mean, std: Math.sqrt(Math.max(0, squares / count - mean * mean)), setMeans };
}
