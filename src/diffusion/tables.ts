// The schedule as the kernels read it: one row of SCHEDULE_WIDTH f32 per t = 0..T
// (shaders/ddpm.wgsl and shaders/twopixel.wgsl).
import { makeSchedule, sigmas, type ScheduleKind, type VarianceKind } from './schedule.js';

export const SCHEDULE_WIDTH = 7;

/**
 * Rows t = 0..T: sqrt(alphabar), sqrt(1 - alphabar), 1/sqrt(alpha), (1 - alpha)/sqrt(1 - alphabar),
 * sigma (0 at t = 1 unless the variance is analytic), and the posterior mean's coefficients of x0 and x_t:
 * sqrt(alphabar_{t-1}) beta / (1 - alphabar), sqrt(alpha) (1 - alphabar_{t-1}) / (1 - alphabar).
 */
export function scheduleTable(kind: ScheduleKind, T: number, variance: VarianceKind = 'posterior', gamma?: ArrayLike<number>): Float32Array {
  const s = makeSchedule(kind, T);
  const sigma = sigmas(s, variance, gamma);
  const out = new Float32Array((T + 1) * SCHEDULE_WIDTH);
  for (let t = 0; t <= T; t++) {
    const r = t * SCHEDULE_WIDTH;
    out[r] = s.sqrtAlphasCumprod[t];
    out[r + 1] = s.sqrtOneMinusAlphasCumprod[t];
    out[r + 2] = 1 / Math.sqrt(s.alphas[t]);
    out[r + 3] = t === 0 ? 0 : (1 - s.alphas[t]) / s.sqrtOneMinusAlphasCumprod[t];
    out[r + 4] = sigma[t];
    out[r + 5] = t === 0 ? 0 : (Math.sqrt(s.alphasCumprodPrev[t]) * s.betas[t]) / (1 - s.alphasCumprod[t]);
    out[r + 6] = t === 0 ? 1 : (Math.sqrt(s.alphas[t]) * (1 - s.alphasCumprodPrev[t])) / (1 - s.alphasCumprod[t]);
  }
  return out;
}
