// "Is a digit's shape generated part by part, or all at once?", measured: along the reverse
// chain, the predicted clean image x0_hat at each step against the final image. A pixel has
// settled at step t when |x0_hat - final| stays below TOLERANCE from t down to 0; a region (a 7x7
// patch) is as far along as the share of its ink pixels that have settled. If regions settle at
// different times (the spread of their half-settled times across a digit is comparable to the
// width of the whole transition) the digit is drawn part by part; if they rise together it
// appears all at once.

/** Settled: within 0.2 of the final value (a tenth of the pixel range [-1, 1]) from then on. */
export const TOLERANCE = 0.2;
/** Pixels whose final value is above this are ink (the background is -1). */
export const INK = 0;
const SIDE = 28;
const PATCH = 7;
const PATCHES = (SIDE / PATCH) ** 2;

export interface Emergence {
  /** The t of each recorded step (T, ..., 1). */
  t: number[];
  /** [patch][step]: mean over samples of the share of the patch's ink pixels settled (patches row-major, 4x4). */
  patchSettled: number[][];
  /** [step]: the same over all ink pixels. */
  settled: number[];
  /** [784]: mean over samples of the t at which each pixel settles (all pixels, ink or not). */
  settleT: number[];
  /** Mean over samples of the spread (standard deviation) of the patches' half-settled t. */
  patchSpread: number;
  /** The mean of the overall transition's width: t at 10 % of ink settled minus t at 90 %. */
  transitionWidth: number;
  /** patchSpread / transitionWidth: near 0 all at once, near or above 1 part by part. */
  ratio: number;
  answer: string;
}

/** The first t (scanning from t = T down) at which `share` has reached `level`, interpolated on the step index. */
function reachT(share: number[], t: number[], level: number): number {
  for (let s = 0; s < share.length; s++) if (share[s] >= level) return t[s];
  return 0;
}

/**
 * x0s [S, R, 784]: the predicted x_0 at each of S steps (t = t[s]) of R samples; finals [R, 784]
 * the samples' final images.
 */
export function measureEmergence(x0s: Float32Array, finals: Float32Array, t: number[]): Emergence {
  const dims = SIDE * SIDE;
  const S = t.length;
  const R = finals.length / dims;
  if (x0s.length !== S * R * dims)
    throw new Error(`emergence: x0s holds ${x0s.length} values, expected ${S}x${R}x${dims}`);
  const patchSettled = Array.from({ length: PATCHES }, () => new Array<number>(S).fill(0));
  const patchCounts = new Array<number>(PATCHES).fill(0);
  const settled = new Array<number>(S).fill(0);
  const settleT = new Array<number>(dims).fill(0);
  let spreadSum = 0;
  let widthSum = 0;
  for (let r = 0; r < R; r++) {
    // step index from which the pixel stays settled (S: never before the end)
    const from = new Int32Array(dims).fill(S);
    for (let d = 0; d < dims; d++) {
      const f = finals[r * dims + d];
      let s = S - 1;
      while (s >= 0 && Math.abs(x0s[(s * R + r) * dims + d] - f) < TOLERANCE) s--;
      from[d] = s + 1;
      settleT[d] += (from[d] < S ? t[from[d]] : 0) / R;
    }
    const ink: number[][] = Array.from({ length: PATCHES }, () => []);
    for (let d = 0; d < dims; d++) {
      if (finals[r * dims + d] <= INK) continue;
      const patch = Math.floor(Math.floor(d / SIDE) / PATCH) * (SIDE / PATCH) + Math.floor((d % SIDE) / PATCH);
      ink[patch].push(from[d]);
    }
    const all = ink.flat();
    if (all.length === 0) continue;
    const share = (list: number[]) =>
      Array.from({ length: S }, (_, s) => list.filter((f) => f <= s).length / list.length);
    const overall = share(all);
    overall.forEach((v, s) => (settled[s] += v / R));
    widthSum += reachT(overall, t, 0.1) - reachT(overall, t, 0.9);
    const halves: number[] = [];
    ink.forEach((list, p) => {
      if (list.length < 3) return;
      const sh = share(list);
      sh.forEach((v, s) => (patchSettled[p][s] += v));
      patchCounts[p]++;
      halves.push(reachT(sh, t, 0.5));
    });
    const mean = halves.reduce((a, b) => a + b, 0) / halves.length;
    spreadSum += Math.sqrt(halves.reduce((a, b) => a + (b - mean) ** 2, 0) / halves.length);
  }
  patchSettled.forEach((row, p) =>
    row.forEach((v, s) => (row[s] = patchCounts[p] > 0 ? v / patchCounts[p] : Number.NaN)),
  );
  const patchSpread = spreadSum / R;
  const transitionWidth = widthSum / R;
  const ratio = patchSpread / Math.max(1, transitionWidth);
  const answer =
    ratio < 0.5
      ? `all at once: the 7x7 regions of a digit reach half their settled ink within ${patchSpread.toFixed(1)} steps of each other (standard deviation), against a transition ${transitionWidth.toFixed(1)} steps wide from 10 % to 90 % of the ink settled (ratio ${ratio.toFixed(2)})`
      : `part by part: the 7x7 regions of a digit reach half their settled ink ${patchSpread.toFixed(1)} steps apart (standard deviation), comparable to the ${transitionWidth.toFixed(1)}-step transition from 10 % to 90 % of the ink settled (ratio ${ratio.toFixed(2)})`;
  return { t, patchSettled, settled, settleT, patchSpread, transitionWidth, ratio, answer };
}
