// The measured fidelity of a two-pixel sample set (SPEC section 6.5): per-mode weight, mean and
// spread, mean log-density under the true PDF, and MMD against fresh true samples beside the MMD
// of true against true, which is the size an MMD can have from sampling noise alone.
import { MIXTURE, mixtureLogPdf, sampleMixture, type Mixture } from '../data/mixture.js';

export interface ModeStats {
  label: number;
  /** share of samples whose nearest peak is this one */
  weight: number;
  count: number;
  /** NaN when no sample is assigned to this mode */
  mean: [number, number];
  /** population std per axis */
  std: [number, number];
  /** sqrt((var_x + var_y) / 2) */
  pooledStd: number;
}

export interface SampleMetrics {
  n: number;
  modes: ModeStats[];
  meanLogDensity: number;
  mmd: number;
  mmdFloor: number;
  weightStdError: number;
}

export const MMD_BANDWIDTH = 0.1;
export const REFERENCE_SIZE = 5000;

/**
 * E[log p(x)] for x drawn from the mixture: sum_k w_k log w_k - log(2 pi e sigma^2) = 1.1198.
 * Exact up to the peaks' overlap, which is negligible 7.8 sigma apart. (SPEC rounds it to 1.11.)
 */
export const TRUE_MEAN_LOG_DENSITY =
  MIXTURE.components.reduce((s, c) => s + c.weight * Math.log(c.weight), 0) -
  Math.log(2 * Math.PI * Math.E * MIXTURE.sigma ** 2);

/** Checks an interleaved (left, right) array and returns the number of samples in it. */
function sampleCount(xy: ArrayLike<number>, what: string, min: number): number {
  if (xy.length % 2 !== 0) {
    throw new Error(`${what} has length ${xy.length}: expected interleaved (left, right) pairs, an even length`);
  }
  const n = xy.length / 2;
  if (n < min) throw new Error(`${what} has ${n} samples: expected at least ${min}`);
  for (let i = 0; i < xy.length; i++) {
    if (!Number.isFinite(xy[i])) {
      throw new Error(`${what}[${i}] is ${xy[i]}: expected finite numbers`);
    }
  }
  return n;
}

function nearestComponent(x: number, y: number, m: Mixture): number {
  let best = 0,
    bestD = Infinity;
  m.components.forEach((c, k) => {
    const d = (x - c.mean[0]) ** 2 + (y - c.mean[1]) ** 2;
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  });
  return best;
}

/** Per peak of the mixture (SPEC section 1's by default): the samples nearest to it. */
export function modeStats(xy: ArrayLike<number>, m: Mixture = MIXTURE): ModeStats[] {
  const n = sampleCount(xy, 'samples', 1);
  const k = m.components.length;
  const count = new Float64Array(k),
    sx = new Float64Array(k),
    sy = new Float64Array(k);
  const assigned = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const c = nearestComponent(xy[2 * i], xy[2 * i + 1], m);
    assigned[i] = c;
    count[c]++;
    sx[c] += xy[2 * i];
    sy[c] += xy[2 * i + 1];
  }
  // Second pass about the mean: the one-pass sum of squares loses digits when std << |mean|.
  const vx = new Float64Array(k),
    vy = new Float64Array(k);
  for (let i = 0; i < n; i++) {
    const c = assigned[i];
    vx[c] += (xy[2 * i] - sx[c] / count[c]) ** 2;
    vy[c] += (xy[2 * i + 1] - sy[c] / count[c]) ** 2;
  }
  return m.components.map((comp, c) => {
    const varX = vx[c] / count[c],
      varY = vy[c] / count[c];
    return {
      label: comp.label,
      weight: count[c] / n,
      count: count[c],
      mean: [sx[c] / count[c], sy[c] / count[c]],
      std: [Math.sqrt(varX), Math.sqrt(varY)],
      pooledStd: Math.sqrt((varX + varY) / 2),
    };
  });
}

export function meanLogDensity(xy: ArrayLike<number>, m: Mixture = MIXTURE): number {
  const n = sampleCount(xy, 'samples', 1);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += mixtureLogPdf(xy[2 * i], xy[2 * i + 1], m);
  return sum / n;
}

/** Mean of k over distinct pairs within one set (i != j), using symmetry to halve the work. */
function withinKernelMean(p: Float64Array, scale: number): number {
  const n = p.length / 2;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const xi = p[2 * i],
      yi = p[2 * i + 1];
    for (let j = i + 1; j < n; j++) {
      const dx = xi - p[2 * j],
        dy = yi - p[2 * j + 1];
      sum += Math.exp(scale * (dx * dx + dy * dy));
    }
  }
  return (2 * sum) / (n * (n - 1));
}

function crossKernelMean(a: Float64Array, b: Float64Array, scale: number): number {
  const m = a.length / 2,
    n = b.length / 2;
  let sum = 0;
  for (let i = 0; i < m; i++) {
    const xi = a[2 * i],
      yi = a[2 * i + 1];
    for (let j = 0; j < n; j++) {
      const dx = xi - b[2 * j],
        dy = yi - b[2 * j + 1];
      sum += Math.exp(scale * (dx * dx + dy * dy));
    }
  }
  return sum / (m * n);
}

/**
 * The unbiased estimate of MMD^2 with the RBF kernel exp(-|x - y|^2 / (2 h^2)). Unbiased means
 * it averages 0 when both sets come from one distribution, so it can be slightly negative.
 */
export function mmdRbf(a: ArrayLike<number>, b: ArrayLike<number>, bandwidth = MMD_BANDWIDTH): number {
  sampleCount(a, 'first sample set', 2);
  sampleCount(b, 'second sample set', 2);
  if (!(bandwidth > 0) || !Number.isFinite(bandwidth)) {
    throw new Error(`MMD bandwidth ${bandwidth} is not a positive finite number`);
  }
  const scale = -1 / (2 * bandwidth * bandwidth);
  const fa = Float64Array.from(a),
    fb = Float64Array.from(b);
  return withinKernelMean(fa, scale) + withinKernelMean(fb, scale) - 2 * crossKernelMean(fa, fb, scale);
}

/**
 * All of SPEC 6.5 for one sample set. The reference set is sampleMixture(5000, seed); the floor
 * compares two further true sets (streams 1 and 2 of that seed) of the same sizes as this
 * comparison, n against 5000, so the two MMDs have the same sampling noise.
 */
export function sampleMetrics(xy: ArrayLike<number>, seed: number): SampleMetrics {
  const n = sampleCount(xy, 'samples', 2);
  const reference = sampleMixture(REFERENCE_SIZE, seed).xy;
  const floorSamples = sampleMixture(n, seed, undefined, 1).xy;
  const floorReference = sampleMixture(REFERENCE_SIZE, seed, undefined, 2).xy;
  const w0 = MIXTURE.components[0].weight;
  return {
    n,
    modes: modeStats(xy),
    meanLogDensity: meanLogDensity(xy),
    mmd: mmdRbf(xy, reference),
    mmdFloor: mmdRbf(floorSamples, floorReference),
    weightStdError: Math.sqrt((w0 * (1 - w0)) / n),
  };
}

/** Share of the samples nearest to a peak of class `label`. */
export function labelAccuracy(xy: ArrayLike<number>, label: number, m: Mixture = MIXTURE): number {
  const n = sampleCount(xy, 'samples', 1);
  if (!m.components.some((c) => c.label === label)) {
    throw new Error(
      `label ${label} is not a mixture class: expected one of ${m.components.map((c) => c.label).join(', ')}`,
    );
  }
  let hits = 0;
  for (let i = 0; i < n; i++) if (m.components[nearestComponent(xy[2 * i], xy[2 * i + 1], m)].label === label) hits++;
  return hits / n;
}

const fixed = (v: number, digits = 3) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const pair = (v: [number, number]) => `(${fixed(v[0])}, ${fixed(v[1])})`;

/** A fixed-width text table, one row per sample set, with the true mixture's values on top. */
export function formatMetricsTable(rows: { name: string; metrics: SampleMetrics }[]): string {
  const header = ['name', 'n'];
  const truth = ['true', '-'];
  for (const c of MIXTURE.components) {
    header.push(`w${c.label}`, `mean${c.label}`, `std${c.label}`);
    truth.push(fixed(c.weight), pair(c.mean), pair([MIXTURE.sigma, MIXTURE.sigma]));
  }
  header.push('mean log p', 'MMD', 'floor');
  truth.push(fixed(TRUE_MEAN_LOG_DENSITY), '-', '-');
  const body = rows.map(({ name, metrics: m }) => {
    const cells = [name, String(m.n)];
    for (const mode of m.modes) cells.push(fixed(mode.weight), pair(mode.mean), pair(mode.std));
    cells.push(fixed(m.meanLogDensity), m.mmd.toExponential(2), m.mmdFloor.toExponential(2));
    return cells;
  });
  const table = [header, truth, ...body];
  const widths = header.map((_, col) => Math.max(...table.map((r) => r[col].length)));
  const line = (r: string[]) =>
    r.map((cell, col) => (col === 0 ? cell.padEnd(widths[col]) : cell.padStart(widths[col]))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...table.slice(1).map(line)].join('\n');
}
