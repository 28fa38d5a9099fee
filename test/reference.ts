// Float64 references for every kernel, written for clarity, not speed. Each differentiable op
// also has an analytic backward: given the upstream gradient `up` (d loss / d output), it returns
// the gradients of its inputs. The tests check each against central differences of its forward,
// then hold the GPU backward to it, so a kernel is compared with a derivation, not only a probe.

/** y = x W + b: x [M, K], W [K, N], b [N]. */
export function linearRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number> | null,
  M: number,
  K: number,
  N: number,
): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = b ? b[n] : 0;
      for (let k = 0; k < K; k++) s += x[m * K + k] * w[k * N + n];
      y[m * N + n] = s;
    }
  }
  return y;
}

/** Backward of linearRef: dx = up W^T, dW = x^T up, db = column sums of up. */
export function linearBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  up: ArrayLike<number>,
  M: number,
  K: number,
  N: number,
): [dx: Float64Array, dw: Float64Array, db: Float64Array] {
  const dx = new Float64Array(M * K),
    dw = new Float64Array(K * N),
    db = new Float64Array(N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      const u = up[m * N + n];
      db[n] += u;
      for (let k = 0; k < K; k++) {
        dx[m * K + k] += u * w[k * N + n];
        dw[k * N + n] += u * x[m * K + k];
      }
    }
  }
  return [dx, dw, db];
}

/** Conv1d geometry: x [batch, cin, length], conv weight [cout, cin, kernel], y [batch, cout, out]. */
export interface ConvShape {
  batch: number;
  cin: number;
  cout: number;
  length: number;
  kernel: number;
  stride?: number;
}

/** Output length of a conv with [left, right] zero padding (PyTorch's formula, dilation 1). */
export function conv1dLength(s: ConvShape, padding: [number, number]): number {
  return Math.floor((s.length + padding[0] + padding[1] - s.kernel) / (s.stride ?? 1)) + 1;
}

/** PyTorch's conv1d (a cross-correlation) after zero-padding x by [left, right]. */
export function conv1dRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  s: ConvShape,
  padding: [number, number] = [0, 0],
): Float64Array {
  const { batch, cin, cout, length, kernel } = s;
  const stride = s.stride ?? 1;
  const lout = conv1dLength(s, padding);
  const y = new Float64Array(batch * cout * lout);
  for (let n = 0; n < batch; n++) {
    for (let co = 0; co < cout; co++) {
      for (let l = 0; l < lout; l++) {
        let sum = b[co];
        for (let ci = 0; ci < cin; ci++) {
          for (let k = 0; k < kernel; k++) {
            const pos = l * stride + k - padding[0];
            if (pos >= 0 && pos < length) sum += w[(co * cin + ci) * kernel + k] * x[(n * cin + ci) * length + pos];
          }
        }
        y[(n * cout + co) * lout + l] = sum;
      }
    }
  }
  return y;
}

/** Backward of conv1dRef: every product w x that fed y[n, co, l] sends up[n, co, l] back to both factors. */
export function conv1dBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  up: ArrayLike<number>,
  s: ConvShape,
  padding: [number, number] = [0, 0],
): [dx: Float64Array, dw: Float64Array, db: Float64Array] {
  const { batch, cin, cout, length, kernel } = s;
  const stride = s.stride ?? 1;
  const lout = conv1dLength(s, padding);
  const dx = new Float64Array(batch * cin * length),
    dw = new Float64Array(cout * cin * kernel),
    db = new Float64Array(cout);
  for (let n = 0; n < batch; n++) {
    for (let co = 0; co < cout; co++) {
      for (let l = 0; l < lout; l++) {
        const u = up[(n * cout + co) * lout + l];
        db[co] += u;
        for (let ci = 0; ci < cin; ci++) {
          for (let k = 0; k < kernel; k++) {
            const pos = l * stride + k - padding[0];
            if (pos < 0 || pos >= length) continue; // a padding zero: no input to credit
            dx[(n * cin + ci) * length + pos] += u * w[(co * cin + ci) * kernel + k];
            dw[(co * cin + ci) * kernel + k] += u * x[(n * cin + ci) * length + pos];
          }
        }
      }
    }
  }
  return [dx, dw, db];
}

/** Output length of PyTorch's ConvTranspose1d (dilation 1, no output padding). */
export function convTranspose1dLength(s: ConvShape, padding: number): number {
  return (s.length - 1) * (s.stride ?? 1) - 2 * padding + s.kernel;
}

/**
 * PyTorch's ConvTranspose1d, weight [cin, cout, kernel]: every input element scatters
 * x[n, ci, i] w[ci, co, k] to output position i stride + k - padding (dropped outside).
 */
export function convTranspose1dRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  s: ConvShape,
  padding = 0,
): Float64Array {
  const { batch, cin, cout, length, kernel } = s;
  const stride = s.stride ?? 1;
  const lout = convTranspose1dLength(s, padding);
  const y = new Float64Array(batch * cout * lout);
  for (let n = 0; n < batch; n++)
    for (let co = 0; co < cout; co++) for (let j = 0; j < lout; j++) y[(n * cout + co) * lout + j] = b[co];
  for (let n = 0; n < batch; n++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let i = 0; i < length; i++) {
        for (let co = 0; co < cout; co++) {
          for (let k = 0; k < kernel; k++) {
            const j = i * stride + k - padding;
            if (j >= 0 && j < lout)
              y[(n * cout + co) * lout + j] += x[(n * cin + ci) * length + i] * w[(ci * cout + co) * kernel + k];
          }
        }
      }
    }
  }
  return y;
}

/** Backward of convTranspose1dRef: each scattered product gathers up at the position it landed on. */
export function convTranspose1dBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  up: ArrayLike<number>,
  s: ConvShape,
  padding = 0,
): [dx: Float64Array, dw: Float64Array, db: Float64Array] {
  const { batch, cin, cout, length, kernel } = s;
  const stride = s.stride ?? 1;
  const lout = convTranspose1dLength(s, padding);
  const dx = new Float64Array(batch * cin * length),
    dw = new Float64Array(cin * cout * kernel),
    db = new Float64Array(cout);
  for (let n = 0; n < batch; n++)
    for (let co = 0; co < cout; co++) for (let j = 0; j < lout; j++) db[co] += up[(n * cout + co) * lout + j];
  for (let n = 0; n < batch; n++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let i = 0; i < length; i++) {
        for (let co = 0; co < cout; co++) {
          for (let k = 0; k < kernel; k++) {
            const j = i * stride + k - padding;
            if (j < 0 || j >= lout) continue; // dropped in the forward: no gradient
            const u = up[(n * cout + co) * lout + j];
            dx[(n * cin + ci) * length + i] += u * w[(ci * cout + co) * kernel + k];
            dw[(ci * cout + co) * kernel + k] += u * x[(n * cin + ci) * length + i];
          }
        }
      }
    }
  }
  return [dx, dw, db];
}

/** Mean and 1 / sqrt(biased variance + eps) of x[base, base + span). */
function groupStats(x: ArrayLike<number>, base: number, span: number, eps: number): { mean: number; rstd: number } {
  let mean = 0;
  for (let i = 0; i < span; i++) mean += x[base + i];
  mean /= span;
  let variance = 0;
  for (let i = 0; i < span; i++) variance += (x[base + i] - mean) ** 2;
  variance /= span;
  return { mean, rstd: 1 / Math.sqrt(variance + eps) };
}

/**
 * PyTorch's GroupNorm over x [batch, channels, length]: per sample and group of channels/groups
 * adjacent channels, the mean and the biased variance; y = (x - mean) / sqrt(var + eps) gamma + beta.
 */
export function groupNormRef(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  beta: ArrayLike<number>,
  batch: number,
  channels: number,
  length: number,
  groups: number,
  eps = 1e-5,
): Float64Array {
  const y = new Float64Array(batch * channels * length);
  const per = channels / groups;
  const span = per * length;
  for (let n = 0; n < batch; n++) {
    for (let grp = 0; grp < groups; grp++) {
      const base = (n * channels + grp * per) * length;
      const { mean, rstd } = groupStats(x, base, span, eps);
      for (let i = 0; i < span; i++) {
        const c = grp * per + Math.floor(i / length);
        y[base + i] = (x[base + i] - mean) * rstd * gamma[c] + beta[c];
      }
    }
  }
  return y;
}

/**
 * Backward of groupNormRef (what PyTorch computes): with xhat the normalized input and
 * g = up gamma, dx = rstd (g - mean(g) - xhat mean(g xhat)) per sample and group, where the
 * two means are the gradient through the group's mean and through its variance;
 * dgamma = sum over batch and length of up xhat, dbeta = the same sum of up.
 */
export function groupNormBackward(
  x: ArrayLike<number>,
  gamma: ArrayLike<number>,
  up: ArrayLike<number>,
  batch: number,
  channels: number,
  length: number,
  groups: number,
  eps = 1e-5,
): [dx: Float64Array, dgamma: Float64Array, dbeta: Float64Array] {
  const dx = new Float64Array(batch * channels * length),
    dgamma = new Float64Array(channels),
    dbeta = new Float64Array(channels);
  const per = channels / groups;
  const span = per * length;
  for (let n = 0; n < batch; n++) {
    for (let grp = 0; grp < groups; grp++) {
      const base = (n * channels + grp * per) * length;
      const { mean, rstd } = groupStats(x, base, span, eps);
      const channel = (i: number) => grp * per + Math.floor(i / length);
      const xhat = (i: number) => (x[base + i] - mean) * rstd;
      let meanG = 0,
        meanGXhat = 0;
      for (let i = 0; i < span; i++) {
        const u = up[base + i],
          c = channel(i);
        meanG += (u * gamma[c]) / span;
        meanGXhat += (u * gamma[c] * xhat(i)) / span;
        dgamma[c] += u * xhat(i);
        dbeta[c] += u;
      }
      for (let i = 0; i < span; i++)
        dx[base + i] = rstd * (up[base + i] * gamma[channel(i)] - meanG - xhat(i) * meanGXhat);
    }
  }
  return [dx, dgamma, dbeta];
}

export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]);
}

export function mulRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v * b[i]);
}

/** Backward of mulRef: da = up b, db = up a. */
export function mulBackward(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  up: ArrayLike<number>,
): [da: Float64Array, db: Float64Array] {
  return [Float64Array.from(up, (u, i) => u * b[i]), Float64Array.from(up, (u, i) => u * a[i])];
}

/** SiLU: x sigmoid(x). */
export function siluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => v / (1 + Math.exp(-v)));
}

/** Backward of siluRef: d/dx x s(x) = s(x) (1 + x (1 - s(x))), s the sigmoid. */
export function siluBackward(x: ArrayLike<number>, up: ArrayLike<number>): [dx: Float64Array] {
  return [
    Float64Array.from(x, (v, i) => {
      const s = 1 / (1 + Math.exp(-v));
      return up[i] * s * (1 + v * (1 - s));
    }),
  ];
}

/** y[n, c, l] = x[n, c, l] + bias[n, c]. */
export function addChannelBiasRef(
  x: ArrayLike<number>,
  bias: ArrayLike<number>,
  batch: number,
  channels: number,
  length: number,
): Float64Array {
  const y = new Float64Array(batch * channels * length);
  for (let i = 0; i < y.length; i++) y[i] = x[i] + bias[Math.floor(i / length)];
  return y;
}

/** Backward of addChannelBiasRef: dx = up, dbias[n, c] = sum over length of up[n, c, :]. */
export function addChannelBiasBackward(
  up: ArrayLike<number>,
  batch: number,
  channels: number,
  length: number,
): [dx: Float64Array, dbias: Float64Array] {
  const dbias = new Float64Array(batch * channels);
  for (let i = 0; i < up.length; i++) dbias[Math.floor(i / length)] += up[i];
  return [Float64Array.from(up), dbias];
}

/** torch.cat([a, b], dim=1) for a [batch, ca, length], b [batch, cb, length]. */
export function concatChannelsRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  batch: number,
  ca: number,
  cb: number,
  length: number,
): Float64Array {
  const y = new Float64Array(batch * (ca + cb) * length);
  let o = 0;
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < ca * length; i++) y[o++] = a[n * ca * length + i];
    for (let i = 0; i < cb * length; i++) y[o++] = b[n * cb * length + i];
  }
  return y;
}

/** Backward of concatChannelsRef: each sample's upstream rows split back into a's and b's. */
export function concatChannelsBackward(
  up: ArrayLike<number>,
  batch: number,
  ca: number,
  cb: number,
  length: number,
): [da: Float64Array, db: Float64Array] {
  const da = new Float64Array(batch * ca * length),
    db = new Float64Array(batch * cb * length);
  let o = 0;
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < ca * length; i++) da[n * ca * length + i] = up[o++];
    for (let i = 0; i < cb * length; i++) db[n * cb * length + i] = up[o++];
  }
  return [da, db];
}

/** Gaussian Fourier features [B, 2H]: [sin(2 pi w_j t s) for all j, then cos(2 pi w_j t s)], s = scale. */
export function fourierFeaturesRef(t: ArrayLike<number>, w: ArrayLike<number>, scale: number): Float64Array {
  const H = w.length;
  const y = new Float64Array(t.length * 2 * H);
  for (let n = 0; n < t.length; n++) {
    for (let j = 0; j < H; j++) {
      const angle = 2 * Math.PI * w[j] * t[n] * scale;
      y[n * 2 * H + j] = Math.sin(angle);
      y[n * 2 * H + H + j] = Math.cos(angle);
    }
  }
  return y;
}

/** onehot(labels) W + b: W [rows, D], b [D] -> [B, D]. */
export function classEmbeddingRef(
  labels: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  rows: number,
  D: number,
): Float64Array {
  const y = new Float64Array(labels.length * D);
  for (let n = 0; n < labels.length; n++) {
    const row = labels[n];
    if (!Number.isInteger(row) || row < 0 || row >= rows)
      throw new Error(`classEmbeddingRef: label ${row} not in [0, ${rows})`);
    for (let d = 0; d < D; d++) y[n * D + d] = w[row * D + d] + b[d];
  }
  return y;
}

/** Backward of classEmbeddingRef: row `label` of dW sums up over the samples with that label; db sums all. */
export function classEmbeddingBackward(
  labels: ArrayLike<number>,
  up: ArrayLike<number>,
  rows: number,
  D: number,
): [dw: Float64Array, db: Float64Array] {
  const dw = new Float64Array(rows * D),
    db = new Float64Array(D);
  for (let n = 0; n < labels.length; n++) {
    for (let d = 0; d < D; d++) {
      dw[labels[n] * D + d] += up[n * D + d];
      db[d] += up[n * D + d];
    }
  }
  return [dw, db];
}

/**
 * PyTorch's MSELoss, L1Loss and HuberLoss(delta), all with reduction 'mean' over every element.
 * Huber: d^2 / 2 where |d| < delta, delta (|d| - delta / 2) elsewhere.
 */
export function regressionLossRef(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  kind: 'mse' | 'l1' | 'huber',
  delta = 1,
): number {
  let sum = 0;
  for (let i = 0; i < pred.length; i++) {
    const d = pred[i] - target[i];
    const a = Math.abs(d);
    if (kind === 'mse') sum += d * d;
    else if (kind === 'l1') sum += a;
    else sum += a < delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
  }
  return sum / pred.length;
}

/**
 * Backward of regressionLossRef for a scalar upstream gradient `up`: up / n times 2d (MSE),
 * sign d (L1, 0 at d = 0 as in PyTorch), or d clamped to [-delta, delta] (Huber).
 */
export function regressionLossBackward(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  kind: 'mse' | 'l1' | 'huber',
  delta = 1,
  up = 1,
): Float64Array {
  return Float64Array.from(pred, (p, i) => {
    const d = p - target[i];
    const slope = kind === 'mse' ? 2 * d : kind === 'l1' ? Math.sign(d) : Math.max(-delta, Math.min(delta, d));
    return (up * slope) / pred.length;
  });
}

/** PyTorch's CrossEntropyLoss (mean over rows) of logits [rows, classes] and integer labels [rows]. */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
): number {
  let sum = 0;
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r * classes + c]);
    let z = 0;
    for (let c = 0; c < classes; c++) z += Math.exp(logits[r * classes + c] - max);
    sum += max + Math.log(z) - logits[r * classes + labels[r]];
  }
  return sum / rows;
}

/** Backward of crossEntropyRef for a scalar upstream gradient `up`: up (softmax(row) - onehot(label)) / rows. */
export function crossEntropyBackward(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  rows: number,
  classes: number,
  up = 1,
): Float64Array {
  const grad = new Float64Array(rows * classes);
  for (let r = 0; r < rows; r++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r * classes + c]);
    let z = 0;
    for (let c = 0; c < classes; c++) z += Math.exp(logits[r * classes + c] - max);
    for (let c = 0; c < classes; c++) {
      const softmax = Math.exp(logits[r * classes + c] - max) / z;
      grad[r * classes + c] = (up * (softmax - (c === labels[r] ? 1 : 0))) / rows;
    }
  }
  return grad;
}

export interface AdamRefOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
  decaySteps?: number;
  warmupSteps?: number;
  ema?: number;
  emaWarmup?: boolean;
}

/** Adam's moments, the EMA of the parameters (null until the first step) and the steps taken so far. */
export interface AdamRefState {
  m: Float64Array;
  v: Float64Array;
  ema: Float64Array | null;
  step: number;
}

export function adamRefState(n: number): AdamRefState {
  return { m: new Float64Array(n), v: new Float64Array(n), ema: null, step: 0 };
}

/** The EMA's decay at step k = 1, 2, ...: min(ema, k / (9 + k)) with the warm-up, else ema. */
export function emaDecayRef(o: AdamRefOptions, k: number): number {
  return o.emaWarmup ? Math.min(o.ema ?? 0, k / (9 + k)) : (o.ema ?? 0);
}

/**
 * One step of PyTorch's Adam (weightDecay 0) or AdamW (decoupled decay), in place on `params`:
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, mhat = m / (1 - b1^k), vhat = v / (1 - b2^k),
 * p -= lr (mhat / (sqrt(vhat) + eps) + wd p) at step k = 1, 2, ...; lr times the cosine
 * 0.5 (1 + cos(pi min(k - 1, decaySteps) / decaySteps)) and the warm-up min(1, k / warmupSteps);
 * ema = d ema + (1 - d) p (ema starts as the initial parameters), d = min(ema, k / (9 + k)) with
 * the warm-up.
 */
export function adamRef(params: Float64Array, grads: ArrayLike<number>, state: AdamRefState, o: AdamRefOptions): void {
  const beta1 = o.beta1 ?? 0.9,
    beta2 = o.beta2 ?? 0.999,
    eps = o.eps ?? 1e-8,
    wd = o.weightDecay ?? 0;
  if (!state.ema) state.ema = Float64Array.from(params);
  const k = ++state.step;
  let lr = o.lr;
  if (o.decaySteps) lr *= 0.5 * (1 + Math.cos((Math.PI * Math.min(k - 1, o.decaySteps)) / o.decaySteps));
  if (o.warmupSteps) lr *= Math.min(1, k / o.warmupSteps);
  const d = emaDecayRef(o, k);
  for (let i = 0; i < params.length; i++) {
    const g = grads[i];
    state.m[i] = beta1 * state.m[i] + (1 - beta1) * g;
    state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g;
    const mhat = state.m[i] / (1 - beta1 ** k);
    const vhat = state.v[i] / (1 - beta2 ** k);
    params[i] -= lr * (mhat / (Math.sqrt(vhat) + eps) + wd * params[i]);
    state.ema[i] = d * state.ema[i] + (1 - d) * params[i];
  }
}

/** Conv2d geometry: x [batch, cin, h, w], conv weight [cout, cin, kh, kw] (transposed: [cin, cout, kh, kw]). */
export interface Conv2dShape {
  batch: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  kh: number;
  kw: number;
  stride: number;
  pad: [number, number];
}

export function conv2dSize(s: Conv2dShape): [number, number] {
  return [
    Math.floor((s.h + 2 * s.pad[0] - s.kh) / s.stride) + 1,
    Math.floor((s.w + 2 * s.pad[1] - s.kw) / s.stride) + 1,
  ];
}

export function convTranspose2dSize(s: Conv2dShape): [number, number] {
  return [(s.h - 1) * s.stride - 2 * s.pad[0] + s.kh, (s.w - 1) * s.stride - 2 * s.pad[1] + s.kw];
}

/**
 * Every product of conv2d (transposed = false: y[n, co, oy, ox] gathers w[co, ci, ky, kx]
 * x[n, ci, oy s + ky - pad, ox s + kx - pad]) or of PyTorch's ConvTranspose2d (x[n, ci, iy, ix]
 * w[ci, co, ky, kx] scattered to y[n, co, iy s + ky - pad, ix s + kx - pad]), as (x, w, y) indices.
 */
function conv2dProducts(
  s: Conv2dShape,
  transposed: boolean,
  visit: (xi: number, wi: number, yi: number) => void,
): void {
  const [ho, wo] = transposed ? convTranspose2dSize(s) : conv2dSize(s);
  const { batch, cin, cout, h, w, kh, kw, stride } = s;
  for (let n = 0; n < batch; n++)
    for (let ci = 0; ci < cin; ci++)
      for (let co = 0; co < cout; co++)
        for (let ky = 0; ky < kh; ky++)
          for (let kx = 0; kx < kw; kx++) {
            const wi = transposed ? ((ci * cout + co) * kh + ky) * kw + kx : ((co * cin + ci) * kh + ky) * kw + kx;
            if (transposed) {
              for (let iy = 0; iy < h; iy++)
                for (let ix = 0; ix < w; ix++) {
                  const oy = iy * stride + ky - s.pad[0],
                    ox = ix * stride + kx - s.pad[1];
                  if (oy >= 0 && oy < ho && ox >= 0 && ox < wo)
                    visit(((n * cin + ci) * h + iy) * w + ix, wi, ((n * cout + co) * ho + oy) * wo + ox);
                }
            } else {
              for (let oy = 0; oy < ho; oy++)
                for (let ox = 0; ox < wo; ox++) {
                  const iy = oy * stride + ky - s.pad[0],
                    ix = ox * stride + kx - s.pad[1];
                  if (iy >= 0 && iy < h && ix >= 0 && ix < w)
                    visit(((n * cin + ci) * h + iy) * w + ix, wi, ((n * cout + co) * ho + oy) * wo + ox);
                }
            }
          }
}

/** Nearest upsampling by 2 of [planes, h, w]: each value copied to a 2 x 2 block. */
export function upsample2xRef(x: ArrayLike<number>, planes: number, h: number, w: number): Float64Array {
  const y = new Float64Array(planes * 4 * h * w);
  for (let p = 0; p < planes; p++)
    for (let Y = 0; Y < 2 * h; Y++)
      for (let X = 0; X < 2 * w; X++) {
        y[(p * 2 * h + Y) * 2 * w + X] = x[(p * h + (Y >> 1)) * w + (X >> 1)];
      }
  return y;
}

/** Backward of upsample2xRef: each 2 x 2 block of up summed. */
export function upsample2xBackward(up: ArrayLike<number>, planes: number, h: number, w: number): Float64Array {
  const dx = new Float64Array(planes * h * w);
  for (let p = 0; p < planes; p++)
    for (let Y = 0; Y < 2 * h; Y++)
      for (let X = 0; X < 2 * w; X++) dx[(p * h + (Y >> 1)) * w + (X >> 1)] += up[(p * 2 * h + Y) * 2 * w + X];
  return dx;
}

export function conv2dRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  s: Conv2dShape,
  transposed = false,
): Float64Array {
  const [ho, wo] = transposed ? convTranspose2dSize(s) : conv2dSize(s);
  const y = new Float64Array(s.batch * s.cout * ho * wo);
  for (let i = 0; i < y.length; i++) y[i] = b[Math.floor(i / (ho * wo)) % s.cout];
  conv2dProducts(s, transposed, (xi, wi, yi) => (y[yi] += x[xi] * w[wi]));
  return y;
}

/** Backward of conv2dRef: each product sends up[y] back to both factors. */
export function conv2dBackward(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  up: ArrayLike<number>,
  s: Conv2dShape,
  transposed = false,
): [dx: Float64Array, dw: Float64Array, db: Float64Array] {
  const [ho, wo] = transposed ? convTranspose2dSize(s) : conv2dSize(s);
  const dx = new Float64Array(x.length),
    dw = new Float64Array(w.length),
    db = new Float64Array(s.cout);
  for (let i = 0; i < up.length; i++) db[Math.floor(i / (ho * wo)) % s.cout] += up[i];
  conv2dProducts(s, transposed, (xi, wi, yi) => {
    dx[xi] += up[yi] * w[wi];
    dw[wi] += up[yi] * x[xi];
  });
  return [dx, dw, db];
}

/** Image b's q, k or v (part 0, 1, 2) at channel c and position i, in qkv [B, 3C, N]. */
function qkvAt(qkv: ArrayLike<number>, C: number, N: number) {
  return (b: number, part: number, c: number, i: number) => qkv[((b * 3 + part) * C + c) * N + i];
}

/** P[i, j] = softmax_j(q[b, :, i] . k[b, :, j] / sqrt(C)) for image b, [N, N]. */
function attentionProbs(qkv: ArrayLike<number>, b: number, C: number, N: number): Float64Array {
  const at = qkvAt(qkv, C, N);
  const P = new Float64Array(N * N);
  for (let i = 0; i < N; i++) {
    const s = Array.from({ length: N }, (_, j) => {
      let d = 0;
      for (let c = 0; c < C; c++) d += at(b, 0, c, i) * at(b, 1, c, j);
      return d / Math.sqrt(C);
    });
    const m = Math.max(...s);
    const e = s.map((v) => Math.exp(v - m));
    const z = e.reduce((a, v) => a + v, 0);
    for (let j = 0; j < N; j++) P[i * N + j] = e[j] / z;
  }
  return P;
}

/** out[b, c, i] = sum_j softmax_j(q[b, :, i] . k[b, :, j] / sqrt(C)) v[b, c, j], in float64. */
export function attentionRef(qkv: ArrayLike<number>, B: number, C: number, N: number): Float64Array {
  const out = new Float64Array(B * C * N);
  const at = qkvAt(qkv, C, N);
  for (let b = 0; b < B; b++) {
    const P = attentionProbs(qkv, b, C, N);
    for (let c = 0; c < C; c++)
      for (let i = 0; i < N; i++) {
        let o = 0;
        for (let j = 0; j < N; j++) o += P[i * N + j] * at(b, 2, c, j);
        out[(b * C + c) * N + i] = o;
      }
  }
  return out;
}

/**
 * Backward of attentionRef, dqkv [B, 3C, N] from up [B, C, N]: dv[c, j] = sum_i up[c, i] P[i, j];
 * dP[i, j] = sum_c up[c, i] v[c, j]; dS = P (dP - sum_j P dP) / sqrt(C); dq[c, i] = sum_j k[c, j]
 * dS[i, j]; dk[c, j] = sum_i q[c, i] dS[i, j].
 */
export function attentionBackward(
  qkv: ArrayLike<number>,
  up: ArrayLike<number>,
  B: number,
  C: number,
  N: number,
): [dqkv: Float64Array] {
  const dqkv = new Float64Array(B * 3 * C * N);
  const at = qkvAt(qkv, C, N);
  const dAt = (b: number, part: number, c: number, i: number) => ((b * 3 + part) * C + c) * N + i;
  const u = (b: number, c: number, i: number) => up[(b * C + c) * N + i];
  for (let b = 0; b < B; b++) {
    const P = attentionProbs(qkv, b, C, N);
    const dS = new Float64Array(N * N);
    for (let i = 0; i < N; i++) {
      let rowDot = 0;
      for (let j = 0; j < N; j++) {
        let dP = 0;
        for (let c = 0; c < C; c++) dP += u(b, c, i) * at(b, 2, c, j);
        dS[i * N + j] = dP;
        rowDot += P[i * N + j] * dP;
      }
      for (let j = 0; j < N; j++) dS[i * N + j] = (P[i * N + j] * (dS[i * N + j] - rowDot)) / Math.sqrt(C);
    }
    for (let c = 0; c < C; c++)
      for (let x = 0; x < N; x++) {
        let dq = 0,
          dk = 0,
          dv = 0;
        for (let y = 0; y < N; y++) {
          dq += at(b, 1, c, y) * dS[x * N + y];
          dk += at(b, 0, c, y) * dS[y * N + x];
          dv += u(b, c, y) * P[y * N + x];
        }
        dqkv[dAt(b, 0, c, x)] = dq;
        dqkv[dAt(b, 1, c, x)] = dk;
        dqkv[dAt(b, 2, c, x)] = dv;
      }
  }
  return [dqkv];
}
