// The two-pixel ground truth of SPEC section 1: a two-peak isotropic Gaussian mixture whose
// density is known in closed form, plus a seeded host sampler for tests and reference sets.
import { PhiloxStream, toNormalPair } from '../core/philox.js';

export interface Component {
  mean: [number, number];
  weight: number;
  label: number;
}

export const MIXTURE: { readonly sigma: number; readonly components: readonly Component[] } = {
  sigma: 0.1,
  components: [
    { mean: [-0.35, 0.65], weight: 0.35, label: 0 },
    { mean: [0.75, -0.45], weight: 0.65, label: 1 },
  ],
};

const VARIANCE = MIXTURE.sigma * MIXTURE.sigma;
const LOG_NORM = -Math.log(2 * Math.PI * VARIANCE);

function component(label: number): Component {
  const c = MIXTURE.components.find((k) => k.label === label);
  if (c === undefined) {
    throw new Error(
      `label ${label} is not a mixture class: expected one of ${MIXTURE.components.map((k) => k.label).join(', ')}`,
    );
  }
  return c;
}

function logGaussian(c: Component, x: number, y: number): number {
  const dx = x - c.mean[0],
    dy = y - c.mean[1];
  return LOG_NORM - (dx * dx + dy * dy) / (2 * VARIANCE);
}

/** The density of one peak alone (not weighted). */
export function componentPdf(label: number, x: number, y: number): number {
  return Math.exp(logGaussian(component(label), x, y));
}

export function mixturePdf(x: number, y: number): number {
  let p = 0;
  for (const c of MIXTURE.components) p += c.weight * Math.exp(logGaussian(c, x, y));
  return p;
}

/** log p(x, y) by log-sum-exp, so it stays finite where the density itself underflows to 0. */
export function mixtureLogPdf(x: number, y: number): number {
  let max = -Infinity;
  const terms = MIXTURE.components.map((c) => {
    const term = Math.log(c.weight) + logGaussian(c, x, y);
    if (term > max) max = term;
    return term;
  });
  let sum = 0;
  for (const term of terms) sum += Math.exp(term - max);
  return max + Math.log(sum);
}

/**
 * n samples, interleaved (left, right), with their class labels. Each sample takes three words of
 * the Philox stream: one picks the peak, two make the Gaussian pair. `label` draws from that peak
 * only; `stream` gives further independent sets from the same seed.
 */
export function sampleMixture(
  n: number,
  seed: number,
  label?: number,
  stream = 0,
): { xy: Float32Array; labels: Uint32Array } {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new Error(`sample count n = ${n} is not a non-negative integer`);
  }
  const fixed = label === undefined ? undefined : component(label);
  const rng = new PhiloxStream(seed, stream);
  const xy = new Float32Array(2 * n);
  const labels = new Uint32Array(n);
  const w0 = MIXTURE.components[0].weight;
  for (let i = 0; i < n; i++) {
    const u = rng.uniform();
    const c = fixed ?? MIXTURE.components[u < w0 ? 0 : 1];
    const [z0, z1] = toNormalPair(rng.u32(), rng.u32());
    xy[2 * i] = c.mean[0] + MIXTURE.sigma * z0;
    xy[2 * i + 1] = c.mean[1] + MIXTURE.sigma * z1;
    labels[i] = c.label;
  }
  return { xy, labels };
}
