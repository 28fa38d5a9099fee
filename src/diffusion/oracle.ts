// The exact noise predictor of the two-pixel mixture, and a host DDPM sampler that uses it: with
// no learning error left, what it produces is the sampler's own discretisation error at a given
// T and variance choice. The study reports it beside every trained model.
import { MIXTURE } from '../data/mixture.js';
import { PhiloxStream } from '../core/philox.js';
import { makeSchedule, sigmas, type ScheduleKind, type VarianceKind } from './schedule.js';

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
  let total = 0, gx = 0, gy = 0;
  for (const p of parts) {
    const w = Math.exp(p.logw - top);
    total += w;
    gx += w * p.dx;
    gy += w * p.dy;
  }
  const k = Math.sqrt(1 - alphabar) / v / total;
  return [k * gx, k * gy];
}

/** n samples (interleaved) from the DDPM sampler driven by the exact eps*. */
export function sampleOracle(n: number, T: number, kind: ScheduleKind, variance: VarianceKind, seed: number): Float32Array {
  const s = makeSchedule(kind, T);
  const sigma = sigmas(s, variance);
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
      if (t > 1) {
        x += sigma[t] * rng.normal();
        y += sigma[t] * rng.normal();
      }
    }
    out[2 * i] = x;
    out[2 * i + 1] = y;
  }
  return out;
}
