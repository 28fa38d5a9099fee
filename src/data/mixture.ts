// The two-pixel ground truth of SPEC section 1: a Gaussian mixture whose density is known in
// closed form, plus a seeded host sampler for tests and reference sets. MIXTURE is the study's
// two-peak mixture; a Mixture of up to MAX_COMPONENTS isotropic peaks (each with its own spread
// and class label) is what the browser demo edits, and what the device draw accepts.
import { PhiloxStream, toNormalPair } from '../core/philox.js';

export interface Component {
  mean: [number, number];
  weight: number;
  label: number;
  /** This peak's standard deviation per axis; the mixture's `sigma` when absent. */
  sigma?: number;
}

export interface Mixture {
  readonly sigma: number;
  readonly components: readonly Component[];
}

/** Peaks the device draw holds (shaders/twopixel_draw.wgsl: one vec4 per field). */
export const MAX_COMPONENTS = 4;

export const MIXTURE: Mixture = {
  sigma: 0.1,
  components: [
    { mean: [-0.35, 0.65], weight: 0.35, label: 0 },
    { mean: [0.75, -0.45], weight: 0.65, label: 1 },
  ],
};

/** A peak's standard deviation per axis. */
export const spread = (m: Mixture, c: Component): number => c.sigma ?? m.sigma;

/**
 * Throws an error naming the first bad value unless `m` has 1..MAX_COMPONENTS peaks with finite
 * means, positive finite spreads, non-negative integer labels and positive weights summing to 1.
 */
export function checkMixture(m: Mixture): void {
  const k = m.components.length;
  if (k < 1 || k > MAX_COMPONENTS) throw new Error(`mixture has ${k} peaks: expected 1 to ${MAX_COMPONENTS}`);
  let total = 0;
  m.components.forEach((c, i) => {
    if (!c.mean.every(Number.isFinite)) throw new Error(`mixture peak ${i}: mean (${c.mean.join(', ')}) is not finite`);
    const s = spread(m, c);
    if (!(s > 0 && Number.isFinite(s))) throw new Error(`mixture peak ${i}: spread ${s} is not a positive number`);
    if (!(c.weight > 0 && Number.isFinite(c.weight)))
      throw new Error(`mixture peak ${i}: weight ${c.weight} is not a positive number`);
    if (!Number.isInteger(c.label) || c.label < 0)
      throw new Error(`mixture peak ${i}: label ${c.label} is not a non-negative integer`);
    total += c.weight;
  });
  if (Math.abs(total - 1) > 1e-6) throw new Error(`mixture weights sum to ${total}: expected 1`);
}

function component(label: number, m: Mixture): Component {
  const c = m.components.find((k) => k.label === label);
  if (c === undefined) {
    throw new Error(
      `label ${label} is not a mixture class: expected one of ${m.components.map((k) => k.label).join(', ')}`,
    );
  }
  return c;
}

function logGaussian(m: Mixture, c: Component, x: number, y: number): number {
  const s = spread(m, c);
  const variance = s * s;
  const dx = x - c.mean[0],
    dy = y - c.mean[1];
  return -Math.log(2 * Math.PI * variance) - (dx * dx + dy * dy) / (2 * variance);
}

/** The density of one peak alone (not weighted): the first peak of that label. */
export function componentPdf(label: number, x: number, y: number, m: Mixture = MIXTURE): number {
  return Math.exp(logGaussian(m, component(label, m), x, y));
}

export function mixturePdf(x: number, y: number, m: Mixture = MIXTURE): number {
  let p = 0;
  for (const c of m.components) p += c.weight * Math.exp(logGaussian(m, c, x, y));
  return p;
}

/** log p(x, y) by log-sum-exp, so it stays finite where the density itself underflows to 0. */
export function mixtureLogPdf(x: number, y: number, m: Mixture = MIXTURE): number {
  let max = -Infinity;
  const terms = m.components.map((c) => {
    const term = Math.log(c.weight) + logGaussian(m, c, x, y);
    if (term > max) max = term;
    return term;
  });
  let sum = 0;
  for (const term of terms) sum += Math.exp(term - max);
  return max + Math.log(sum);
}

/**
 * n samples, interleaved (left, right), with their class labels. Each sample takes three words of
 * the Philox stream: one picks the peak (by the weights' running sum), two make the Gaussian pair.
 * `label` draws from that label's first peak only; `stream` gives further independent sets from
 * the same seed.
 */
export function sampleMixture(
  n: number,
  seed: number,
  label?: number,
  stream = 0,
  m: Mixture = MIXTURE,
): { xy: Float32Array; labels: Uint32Array } {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`sample count n = ${n} is not a non-negative integer`);
  }
  checkMixture(m);
  const fixed = label === undefined ? undefined : component(label, m);
  const rng = new PhiloxStream(seed, stream);
  const xy = new Float32Array(2 * n);
  const labels = new Uint32Array(n);
  const last = m.components.length - 1;
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    let k = 0;
    for (let below = m.components[0].weight; k < last && u >= below; below += m.components[k].weight) k++;
    const c = fixed ?? m.components[k];
    const [z0, z1] = toNormalPair(rng.u32(), rng.u32());
    const s = spread(m, c);
    xy[2 * i] = c.mean[0] + s * z0;
    xy[2 * i + 1] = c.mean[1] + s * z1;
    labels[i] = c.label;
  }
  return { xy, labels };
}
