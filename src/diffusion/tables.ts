// The schedule as the kernels read it: one row of SCHEDULE_WIDTH f32 per t = 0..T, its columns
// named once here; kernels read a row through SCHEDULE_LIBRARY's schedule_step(t).
import { makeSchedule, sigmas, type ScheduleKind, type VarianceKind } from './schedule.js';

/** The columns of a row, in order. */
export const SCHEDULE_COLUMNS = [
  'sqrt_ab',
  'sqrt_1m_ab',
  'inv_sqrt_alpha',
  'eps_coef',
  'sigma',
  'x0_coef',
  'xt_coef',
] as const;
export const SCHEDULE_WIDTH = SCHEDULE_COLUMNS.length;
const COLUMN = Object.fromEntries(SCHEDULE_COLUMNS.map((c, i) => [c, i])) as Record<
  (typeof SCHEDULE_COLUMNS)[number],
  number
>;

/**
 * WGSL for a kernel with a `schedule` binding (the table below): `struct Step` with one field per
 * column and `fn schedule_step(t: u32) -> Step`, row t.
 */
export const SCHEDULE_LIBRARY = [
  `const SCHEDULE_WIDTH: u32 = ${SCHEDULE_WIDTH}u;`,
  `struct Step { ${SCHEDULE_COLUMNS.map((c) => `${c}: f32`).join(', ')} }`,
  `fn schedule_step(t: u32) -> Step {\n  let r = t * SCHEDULE_WIDTH;\n  return Step(${SCHEDULE_COLUMNS.map((_, i) => `schedule[r + ${i}u]`).join(', ')});\n}`,
].join('\n');

/**
 * Rows t = 0..T: sqrt(alphabar), sqrt(1 - alphabar), 1/sqrt(alpha), (1 - alpha)/sqrt(1 - alphabar),
 * sigma (0 at t = 1 unless the variance is analytic), and the posterior mean's coefficients of x0 and x_t:
 * sqrt(alphabar_{t-1}) beta / (1 - alphabar), sqrt(alpha) (1 - alphabar_{t-1}) / (1 - alphabar).
 * The host's readers use column(row, name).
 */
export function scheduleTable(
  kind: ScheduleKind,
  T: number,
  variance: VarianceKind = 'posterior',
  gamma?: ArrayLike<number>,
): Float32Array {
  const s = makeSchedule(kind, T);
  const sigma = sigmas(s, variance, gamma);
  const out = new Float32Array((T + 1) * SCHEDULE_WIDTH);
  for (let t = 0; t <= T; t++) {
    const r = t * SCHEDULE_WIDTH;
    out[r + COLUMN.sqrt_ab] = s.sqrtAlphasCumprod[t];
    out[r + COLUMN.sqrt_1m_ab] = s.sqrtOneMinusAlphasCumprod[t];
    out[r + COLUMN.inv_sqrt_alpha] = 1 / Math.sqrt(s.alphas[t]);
    out[r + COLUMN.eps_coef] = t === 0 ? 0 : (1 - s.alphas[t]) / s.sqrtOneMinusAlphasCumprod[t];
    out[r + COLUMN.sigma] = sigma[t];
    out[r + COLUMN.x0_coef] = t === 0 ? 0 : (Math.sqrt(s.alphasCumprodPrev[t]) * s.betas[t]) / (1 - s.alphasCumprod[t]);
    out[r + COLUMN.xt_coef] =
      t === 0 ? 1 : (Math.sqrt(s.alphas[t]) * (1 - s.alphasCumprodPrev[t])) / (1 - s.alphasCumprod[t]);
  }
  return out;
}

/** Column `name` of row t of a table made by scheduleTable. */
export function scheduleValue(table: ArrayLike<number>, t: number, name: (typeof SCHEDULE_COLUMNS)[number]): number {
  return table[t * SCHEDULE_WIDTH + COLUMN[name]];
}
