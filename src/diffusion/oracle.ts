// The exact noise predictor of the two-pixel mixture, and a host DDPM sampler that uses it: with
// no learning error left, what it produces is the sampler's own discretisation error at a given
// T and variance choice. The study reports it beside every trained model.
import { MIXTURE, sampleMixture } from '../data/mixture.js';
import { PhiloxStream } from '../core/philox.js';
import { makeSchedule, sigmas, type Schedule, type ScheduleKind, type VarianceKind } from './schedule.js';

/**
 * eps*(x, t) = -sqrt(1 - alphabar_t) grad log p_t(x), where p_t is the mixture pushed through
 * the forward process: component k becomes N(sqrt(alphabar) m_k, (alphabar sigma^2 + 1 - alphabar) I).
 * `label` restricts it to one component (the conditional model).
 */
export function exactEps(x: number, y: number, alphabar: number, label?: number): [number, number] {
  const v = alphabar * MIXTURE.sigma ** 2 + (1 - alphabar);
  const s = Math.sqrt(alphabar);
  const parts = MIXTURE.components
    .filter((c) => label === undefined || c.label === label)
    .map((c) => {
      const dx = x - s * c.mean[0];
      const dy = y - s * c.mean[1];
      return { dx, dy, logw: Math.log(c.weight) - (dx * dx + dy * dy) / (2 * v) };
    });
  const top = Math.max(...parts.map((p) => p.logw));
  let total = 0,
    gx = 0,
    gy = 0;
  for (const p of parts) {
    const w = Math.exp(p.logw - top);
    total += w;
    gx += w * p.dx;
    gy += w * p.dy;
  }
  const k = Math.sqrt(1 - alphabar) / v / total;
  return [k * gx, k * gy];
}

/**
 * The points a Gamma table is measured on: x_t = sqrt(alphabar_t) x_0 + sqrt(1 - alphabar_t) eps
 * for n mixture samples x_0 and noises eps that every t shares, so the table is smooth in t.
 */
export function gammaProbe(s: Schedule, n: number, seed: number): (t: number) => Float32Array {
  const { xy } = sampleMixture(n, seed, undefined, 78);
  const rng = new PhiloxStream(seed, 79);
  const noise = Float64Array.from({ length: 2 * n }, () => rng.normal());
  return (t) => xy.map((v, i) => s.sqrtAlphasCumprod[t] * v + s.sqrtOneMinusAlphasCumprod[t] * noise[i]);
}

/** Gamma_t = E ||eps*(x_t, t)||^2 / 2 over the noised mixture, t = 0..T: the exact score's table. */
export function exactGamma(s: Schedule, n: number, seed: number): Float64Array {
  const probe = gammaProbe(s, n, seed);
  const gamma = new Float64Array(s.T + 1);
  for (let t = 1; t <= s.T; t++) {
    const xt = probe(t);
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const [ex, ey] = exactEps(xt[2 * i], xt[2 * i + 1], s.alphasCumprod[t]);
      sum += ex * ex + ey * ey;
    }
    gamma[t] = sum / (2 * n);
  }
  return gamma;
}

/**
 * Noised points of the exact score's reference Gamma table (referenceGamma). Few steps make the
 * samples sensitive to it: at T = 5 the last step's variance is proportional to 1 - Gamma_1, about
 * 0.17, and Gamma_1 from 2048 points was 0.02 off (mean log p of the exact-score sampler -1.11
 * instead of -1.33), from 10000 points up to 0.018; 200000 points take about 1.5 s at T = 5 and
 * 3 s at T = 50 here (README, 2026-12-02).
 */
export const GAMMA_REFERENCE_POINTS = 200_000;

/** The exact score's Gamma table, t = 0..T, from GAMMA_REFERENCE_POINTS noised mixture points. */
export const referenceGamma = (s: Schedule, seed: number): Float64Array => exactGamma(s, GAMMA_REFERENCE_POINTS, seed);

/**
 * n samples (interleaved) from the DDPM sampler driven by the exact eps*. The analytic variance
 * uses `gamma` when given (a table referenceGamma made for the same schedule), else makes it.
 */
export function sampleOracle(
  n: number,
  T: number,
  kind: ScheduleKind,
  variance: VarianceKind,
  seed: number,
  gamma?: ArrayLike<number>,
): Float32Array {
  const s = makeSchedule(kind, T);
  const sigma = sigmas(s, variance, variance === 'analytic' ? (gamma ?? referenceGamma(s, seed)) : undefined);
  const rng = new PhiloxStream(seed, 77);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    let x = rng.normal();
    let y = rng.normal();
    for (let t = T; t >= 1; t--) {
      const [ex, ey] = exactEps(x, y, s.alphasCumprod[t]);
      const c1 = 1 / Math.sqrt(s.alphas[t]);
      const c2 = (1 - s.alphas[t]) / s.sqrtOneMinusAlphasCumprod[t];
      x = c1 * (x - c2 * ex);
      y = c1 * (y - c2 * ey);
      x += sigma[t] * rng.normal();
      y += sigma[t] * rng.normal();
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}
