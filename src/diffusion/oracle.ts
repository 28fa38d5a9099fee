// The exact noise predictor of the two-pixel mixture, and a host DDPM sampler that uses it: with
// no learning error left, what it produces is the sampler's own discretisation error at a given
// T and variance choice. The study reports it beside every trained model.
import { MIXTURE, sampleMixture } from '../data/mixture.js';
import { PhiloxStream, philox4x32, seedKey, toNormalPair } from '../core/philox.js';
import { SAMPLER_TAGS, STREAM_SAMPLE } from './ops.js';
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
 * The device DDPM sampler's standard normal draws (shaders/ddpm_step.wgsl's normal_draw), on the
 * host: element e (2 i + d for coordinate d of sample i) of the draw at sampling step s (0 for x_T,
 * T - t for the noise added at step t), tag TAG_START for x_T and TAG_STEP for a step's noise,
 * under the sampler's seed. The same numbers as the fused and op-by-op samplers draw, to float32
 * rounding of the Box-Muller transform.
 */
export function samplerNormal(key: readonly [number, number], e: number, step: number, tag: number): number {
  const [u0, u1] = philox4x32([e, STREAM_SAMPLE, step, tag], key);
  return toNormalPair(u0, u1)[0];
}

export interface OracleOptions {
  /** Clip the predicted x_0 to [-clip, clip] in each step, as the device sampler's `clip` (0 or absent: off). */
  clip?: number;
  /** The noise predictor (default exactEps): eps at (x, y) for step t, whose alphabar is given. */
  eps?: (x: number, y: number, alphabar: number, t: number) => [number, number];
}

/**
 * n samples (interleaved) from the DDPM sampler driven by the exact eps*: the device sampler's
 * update (reverse_mean in shaders/ddpm_step.wgsl, clip included) in float64, with the device
 * sampler's draws for the same seed (samplerNormal). So the exact-score sampler and a learned
 * model sampled with one seed start from the same x_T and add the same noise at every step, and
 * their difference is the model's: at T = 5, two independent 5000-sample runs of the exact-score
 * sampler differ in mean log p with a standard deviation of about 0.1 (per-sample sd 5.0-5.4),
 * as large as the bar the study holds the models to (README, 2026-12-06). The analytic variance
 * uses `gamma` when given (a table referenceGamma made for the same schedule), else makes it.
 */
export function sampleOracle(
  n: number,
  T: number,
  kind: ScheduleKind,
  variance: VarianceKind,
  seed: number,
  gamma?: ArrayLike<number>,
  options: OracleOptions = {},
): Float32Array {
  const s = makeSchedule(kind, T);
  const sigma = sigmas(s, variance, variance === 'analytic' ? (gamma ?? referenceGamma(s, seed)) : undefined);
  const key = seedKey(seed);
  const clip = options.clip ?? 0;
  const eps = options.eps ?? ((x: number, y: number, alphabar: number) => exactEps(x, y, alphabar));
  const { TAG_START, TAG_STEP } = SAMPLER_TAGS;
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const xy = [samplerNormal(key, 2 * i, 0, TAG_START), samplerNormal(key, 2 * i + 1, 0, TAG_START)];
    for (let t = T; t >= 1; t--) {
      const e = eps(xy[0], xy[1], s.alphasCumprod[t], t);
      for (let d = 0; d < 2; d++) {
        let mean: number;
        if (clip > 0) {
          const x0 = Math.min(
            clip,
            Math.max(-clip, (xy[d] - s.sqrtOneMinusAlphasCumprod[t] * e[d]) / s.sqrtAlphasCumprod[t]),
          );
          const x0Coef = (Math.sqrt(s.alphasCumprodPrev[t]) * s.betas[t]) / (1 - s.alphasCumprod[t]);
          const xtCoef = (Math.sqrt(s.alphas[t]) * (1 - s.alphasCumprodPrev[t])) / (1 - s.alphasCumprod[t]);
          mean = x0Coef * x0 + xtCoef * xy[d];
        } else {
          mean = (xy[d] - ((1 - s.alphas[t]) / s.sqrtOneMinusAlphasCumprod[t]) * e[d]) / Math.sqrt(s.alphas[t]);
        }
        xy[d] = mean + sigma[t] * samplerNormal(key, 2 * i + d, T - t, TAG_STEP);
      }
    }
    out[2 * i] = xy[0];
    out[2 * i + 1] = xy[1];
  }
  return out;
}
