// The noise schedules of SPEC section 2 and the "global" tables the trainer and sampler share.
// Every table has length T + 1 so that index t is step t; index 0 is the clean image
// (beta 0, alpha 1, alphabar 1, no posterior noise), which keeps the t - 1 lookups branch-free.

export type ScheduleKind = 'cosine' | 'linear';
/**
 * The reverse step's sigma_t^2: betatilde_t ('posterior', the default), beta_t ('beta'), or the
 * optimal variance of Analytic-DPM ('analytic', from a model's Gamma table; see analyticVariance).
 */
export type VarianceKind = 'posterior' | 'beta' | 'analytic';

export interface Schedule {
  kind: ScheduleKind;
  T: number;
  betas: Float64Array;
  alphas: Float64Array;
  alphasCumprod: Float64Array;
  alphasCumprodPrev: Float64Array;
  sqrtAlphasCumprod: Float64Array;
  sqrtOneMinusAlphasCumprod: Float64Array;
  posteriorVariance: Float64Array;
}

export const MAX_T = 100000;
const MAX_BETA = 0.999;
const COSINE_OFFSET = 0.008;
const LINEAR_BETA_START = 1e-4;
const LINEAR_BETA_END = 0.02;

function cosineBetas(T: number): Float64Array {
  const f = (t: number) => Math.cos(((t / T + COSINE_OFFSET) / (1 + COSINE_OFFSET)) * (Math.PI / 2)) ** 2;
  const betas = new Float64Array(T + 1);
  for (let t = 1; t <= T; t++) betas[t] = Math.min(1 - f(t) / f(t - 1), MAX_BETA);
  return betas;
}

function linearBetas(T: number): Float64Array {
  const betas = new Float64Array(T + 1);
  const step = T === 1 ? 0 : (LINEAR_BETA_END - LINEAR_BETA_START) / (T - 1);
  for (let t = 1; t <= T; t++) betas[t] = LINEAR_BETA_START + step * (t - 1);
  return betas;
}

export function makeSchedule(kind: ScheduleKind, T: number): Schedule {
  if (!Number.isInteger(T) || T < 1 || T > MAX_T) {
    throw new Error(`schedule length T = ${T} is not an integer in [1, ${MAX_T}]`);
  }
  let betas: Float64Array;
  if (kind === 'cosine') betas = cosineBetas(T);
  else if (kind === 'linear') betas = linearBetas(T);
  else throw new Error(`unknown schedule kind ${JSON.stringify(kind)}: expected 'cosine' or 'linear'`);

  const n = T + 1;
  const alphas = new Float64Array(n);
  const alphasCumprod = new Float64Array(n);
  const alphasCumprodPrev = new Float64Array(n);
  const sqrtAlphasCumprod = new Float64Array(n);
  const sqrtOneMinusAlphasCumprod = new Float64Array(n);
  const posteriorVariance = new Float64Array(n);
  alphas[0] = alphasCumprod[0] = alphasCumprodPrev[0] = sqrtAlphasCumprod[0] = 1;
  // alphabar is recomputed from the clipped betas (as improved-DDPM does), so the tables stay
  // consistent with the steps actually taken rather than with the unclipped cosine curve.
  for (let t = 1; t < n; t++) {
    alphas[t] = 1 - betas[t];
    alphasCumprod[t] = alphasCumprod[t - 1] * alphas[t];
    alphasCumprodPrev[t] = alphasCumprod[t - 1];
    sqrtAlphasCumprod[t] = Math.sqrt(alphasCumprod[t]);
    sqrtOneMinusAlphasCumprod[t] = Math.sqrt(1 - alphasCumprod[t]);
    posteriorVariance[t] = ((1 - alphasCumprodPrev[t]) / (1 - alphasCumprod[t])) * betas[t];
  }
  return {
    kind,
    T,
    betas,
    alphas,
    alphasCumprod,
    alphasCumprodPrev,
    sqrtAlphasCumprod,
    sqrtOneMinusAlphasCumprod,
    posteriorVariance,
  };
}

/**
 * sigma_t for the reverse step, index 0..T. SPEC section 5 adds no noise at t = 1, so the two DDPM
 * choices have sigma_1 = 0 here and the kernels add sigma_t z at every step; the analytic variance
 * keeps its own last step (it needs `gamma`, see analyticVariance).
 */
export function sigmas(s: Schedule, variance: VarianceKind, gamma?: ArrayLike<number>): Float64Array {
  let v: Float64Array;
  if (variance === 'posterior') v = s.posteriorVariance.slice();
  else if (variance === 'beta') v = s.betas.slice();
  else if (variance === 'analytic') {
    if (!gamma) throw new Error("the 'analytic' variance needs the model's Gamma table (estimateGamma)");
    v = analyticVariance(s, gamma);
  } else
    throw new Error(`unknown variance kind ${JSON.stringify(variance)}: expected 'posterior', 'beta' or 'analytic'`);
  if (variance !== 'analytic' && s.T >= 1) v[1] = 0;
  return v.map(Math.sqrt);
}

/**
 * The reverse step's optimal isotropic variance given the noise predictor (Bao et al. 2022,
 * Analytic-DPM): the true Cov(x_{t-1} | x_t) averaged over x_t is
 *   betatilde_t + beta_t^2 / (alpha_t (1 - alphabar_t)) (1 - Gamma_t),
 * with Gamma_t = E ||epshat(x_t, t)||^2 / d over the noised data (E tr Cov(eps | x_t) / d = 1 - Gamma_t).
 * Clipped to [betatilde_t, beta_t]: beta_t is the variance for data of unit variance, the two-pixel
 * data has less. At t = 1 this adds the noise that the plain update leaves out, which restores the
 * spread the last step's posterior mean takes away.
 */
export function analyticVariance(s: Schedule, gamma: ArrayLike<number>): Float64Array {
  if (gamma.length !== s.T + 1) throw new Error(`Gamma table has ${gamma.length} entries, expected T + 1 = ${s.T + 1}`);
  const v = new Float64Array(s.T + 1);
  for (let t = 1; t <= s.T; t++) {
    const g = gamma[t];
    if (!Number.isFinite(g)) throw new Error(`Gamma_${t} = ${g} is not a finite number`);
    const beta = s.betas[t];
    const raw = s.posteriorVariance[t] + ((beta * beta) / (s.alphas[t] * (1 - s.alphasCumprod[t]))) * (1 - g);
    v[t] = Math.min(Math.max(raw, s.posteriorVariance[t]), beta);
  }
  return v;
}
