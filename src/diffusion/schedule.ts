// The noise schedules of SPEC section 2 and the "global" tables the trainer and sampler share.
// Every table has length T + 1 so that index t is step t; index 0 is the clean image
// (beta 0, alpha 1, alphabar 1, no posterior noise), which keeps the t - 1 lookups branch-free.

export type ScheduleKind = 'cosine' | 'linear';
/** sigma_t^2 = betatilde_t ('posterior', the default) or beta_t ('beta'). */
export type VarianceKind = 'posterior' | 'beta';

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
    kind, T, betas, alphas, alphasCumprod, alphasCumprodPrev,
    sqrtAlphasCumprod, sqrtOneMinusAlphasCumprod, posteriorVariance,
  };
}

/** sigma_t for the reverse step, index 0..T (sigma_0 = 0 either way). */
export function sigmas(s: Schedule, variance: VarianceKind): Float64Array {
  let source: Float64Array;
  if (variance === 'posterior') source = s.posteriorVariance;
  else if (variance === 'beta') source = s.betas;
  else throw new Error(`unknown variance kind ${JSON.stringify(variance)}: expected 'posterior' or 'beta'`);
  return source.map(Math.sqrt);
}
