// Scalar fields on a regular 2-D grid over the two-pixel plane: sampled from a function (the true
// PDF), binned from points (a 2-D histogram) or smoothed from points (a Gaussian KDE). Each
// grid is a density the figures draw as a heat map or as contour lines.

/** A closed interval [lo, hi] of one axis, lo < hi. */
export type Range = [number, number];

/**
 * `nx` by `ny` values, `values[iy * nx + ix]`, at cell centres evenly spaced over the ranges:
 * cell `ix` covers `x[0] + [ix, ix + 1] * (x[1] - x[0]) / nx`, and `iy = 0` is the bottom row.
 */
export interface Grid {
  nx: number;
  ny: number;
  x: Range;
  y: Range;
  values: ArrayLike<number>;
}

/** Throws unless `range` is two finite numbers with lo < hi; `name` says whose range it is. */
export function checkRange(range: Range, name: string): void {
  if (!Array.isArray(range) || range.length !== 2) {
    throw new Error(`${name} ${JSON.stringify(range)}: expected [lo, hi], two finite numbers with lo < hi`);
  }
  const [lo, hi] = range;
  if (!Number.isFinite(lo) || !Number.isFinite(hi) || !(lo < hi)) {
    throw new Error(`${name} [${lo}, ${hi}]: expected two finite numbers with lo < hi`);
  }
}

/** Throws unless `n` is an integer in [min, max]. */
export function checkInteger(n: number, name: string, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(n) || n < min || n > max) {
    const bound = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `in [${min}, ${max}]`;
    throw new Error(`${name} ${n}: expected an integer ${bound}`);
  }
}

/** Throws unless `xs` and `ys` are arrays of equal length. */
export function checkPairs(xs: ArrayLike<number>, ys: ArrayLike<number>, name: string): void {
  if (xs == null || ys == null || typeof xs.length !== 'number' || typeof ys.length !== 'number') {
    throw new Error(`${name}: expected x and y arrays, got ${typeof xs} and ${typeof ys}`);
  }
  if (xs.length !== ys.length) {
    throw new Error(`${name}: x has ${xs.length} values and y has ${ys.length}; expected equal lengths`);
  }
}

/** Throws unless `grid` has positive integer sizes, valid ranges and `nx * ny` finite values. */
export function checkGrid(grid: Grid, name: string): void {
  if (grid == null || typeof grid !== 'object') throw new Error(`${name}: expected a Grid, got ${grid}`);
  checkInteger(grid.nx, `${name}.nx`, 1);
  checkInteger(grid.ny, `${name}.ny`, 1);
  checkRange(grid.x, `${name}.x`);
  checkRange(grid.y, `${name}.y`);
  const want = grid.nx * grid.ny;
  if (grid.values == null || grid.values.length !== want) {
    throw new Error(
      `${name}.values has length ${grid.values?.length}; expected nx * ny = ${grid.nx} * ${grid.ny} = ${want}`,
    );
  }
  for (let i = 0; i < want; i++) {
    if (!Number.isFinite(grid.values[i])) {
      throw new Error(`${name}.values[${i}] = ${grid.values[i]}; expected a finite number`);
    }
  }
}

/** The centre of cell `i` of `n` cells over `range`. */
export function cellCentre(range: Range, n: number, i: number): number {
  return range[0] + ((i + 0.5) * (range[1] - range[0])) / n;
}

/** `f` sampled at the centres of an `n` by `n` grid over `range` on both axes. */
export function gridFromFunction(f: (x: number, y: number) => number, range: Range, n: number): Grid {
  checkRange(range, 'range');
  checkInteger(n, 'n', 1);
  const values = new Float64Array(n * n);
  for (let iy = 0; iy < n; iy++) {
    const y = cellCentre(range, n, iy);
    for (let ix = 0; ix < n; ix++) values[iy * n + ix] = f(cellCentre(range, n, ix), y);
  }
  return { nx: n, ny: n, x: [range[0], range[1]], y: [range[0], range[1]], values };
}

/**
 * The 2-D histogram of the points on an `n` by `n` grid over `range`, as a density: each count is
 * divided by the number of points and the cell area, so the grid integrates to the share of
 * points inside the range. A point on the upper edge falls in the last cell; a non-finite point
 * falls outside.
 */
export function histogram2d(xs: ArrayLike<number>, ys: ArrayLike<number>, range: Range, n: number): Grid {
  checkPairs(xs, ys, 'histogram2d points');
  checkRange(range, 'range');
  checkInteger(n, 'n', 1);
  const [lo, hi] = range;
  const cell = (hi - lo) / n;
  const values = new Float64Array(n * n);
  if (xs.length > 0) {
    const weight = 1 / (xs.length * cell * cell);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i];
      const y = ys[i];
      if (!(x >= lo && x <= hi && y >= lo && y <= hi)) continue;
      const ix = Math.min(n - 1, Math.floor((x - lo) / cell));
      const iy = Math.min(n - 1, Math.floor((y - lo) / cell));
      values[iy * n + ix] += weight;
    }
  }
  return { nx: n, ny: n, x: [lo, hi], y: [lo, hi], values };
}

/**
 * The Gaussian kernel density estimate of the points, with an isotropic `bandwidth` (the kernel's
 * standard deviation), at the centres of an `n` by `n` grid over `range`. The kernel is cut at 4
 * bandwidths, so the cost is O(points * cells within 4 bandwidths); the mass lost is below 1e-4.
 */
export function kde2d(xs: ArrayLike<number>, ys: ArrayLike<number>, range: Range, n: number, bandwidth: number): Grid {
  checkPairs(xs, ys, 'kde2d points');
  checkRange(range, 'range');
  checkInteger(n, 'n', 1);
  if (!Number.isFinite(bandwidth) || !(bandwidth > 0)) {
    throw new Error(`bandwidth ${bandwidth}: expected a finite number > 0`);
  }
  const [lo, hi] = range;
  const cell = (hi - lo) / n;
  const values = new Float64Array(n * n);
  const grid: Grid = { nx: n, ny: n, x: [lo, hi], y: [lo, hi], values };
  if (xs.length === 0) return grid;
  const norm = 1 / (xs.length * 2 * Math.PI * bandwidth * bandwidth);
  const reach = 4 * bandwidth;
  const inv2h2 = 1 / (2 * bandwidth * bandwidth);
  // The kernel is separable: a point adds wx[ix] * wy[iy] over its window of cells.
  const span = Math.ceil((2 * reach) / cell) + 2;
  const wx = new Float64Array(span);
  const wy = new Float64Array(span);
  const window = (p: number): [number, number] => [
    Math.max(0, Math.ceil((p - reach - lo) / cell - 0.5)),
    Math.min(n - 1, Math.floor((p + reach - lo) / cell - 0.5)),
  ];
  for (let i = 0; i < xs.length; i++) {
    const x = xs[i];
    const y = ys[i];
    if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
    const [x0, x1] = window(x);
    const [y0, y1] = window(y);
    if (x0 > x1 || y0 > y1) continue;
    for (let ix = x0; ix <= x1; ix++) {
      const d = cellCentre(range, n, ix) - x;
      wx[ix - x0] = Math.exp(-d * d * inv2h2);
    }
    for (let iy = y0; iy <= y1; iy++) {
      const d = cellCentre(range, n, iy) - y;
      wy[iy - y0] = Math.exp(-d * d * inv2h2) * norm;
    }
    for (let iy = y0; iy <= y1; iy++) {
      const row = iy * n;
      const w = wy[iy - y0];
      for (let ix = x0; ix <= x1; ix++) values[row + ix] += w * wx[ix - x0];
    }
  }
  return grid;
}

/**
 * The total-variation distance between two densities on the same grid: half the integral of
 * |a - b|, from 0 (equal) to 1 (disjoint). Mass outside the grid is left out of both.
 */
export function totalVariation(a: Grid, b: Grid): number {
  if (
    a.nx !== b.nx ||
    a.ny !== b.ny ||
    a.x[0] !== b.x[0] ||
    a.x[1] !== b.x[1] ||
    a.y[0] !== b.y[0] ||
    a.y[1] !== b.y[1]
  )
    throw new Error(
      `totalVariation: grids ${a.nx}x${a.ny} over ${a.x}/${a.y} and ${b.nx}x${b.ny} over ${b.x}/${b.y} differ`,
    );
  const cell = ((a.x[1] - a.x[0]) / a.nx) * ((a.y[1] - a.y[0]) / a.ny);
  let sum = 0;
  for (let i = 0; i < a.values.length; i++) sum += Math.abs(a.values[i] - b.values[i]);
  return 0.5 * sum * cell;
}
