// Float64 references for every kernel, written for clarity, not speed.

/** y = x W + b: x [M, K], W [K, N], b [N]. */
export function linearRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number> | null, M: number, K: number, N: number): Float64Array {
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
export function conv1dRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, s: ConvShape, padding: [number, number] = [0, 0]): Float64Array {
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

/** Output length of PyTorch's ConvTranspose1d (dilation 1, no output padding). */
export function convTranspose1dLength(s: ConvShape, padding: number): number {
  return (s.length - 1) * (s.stride ?? 1) - 2 * padding + s.kernel;
}

/**
 * PyTorch's ConvTranspose1d, weight [cin, cout, kernel]: every input element scatters
 * x[n, ci, i] w[ci, co, k] to output position i stride + k - padding (dropped outside).
 */
export function convTranspose1dRef(x: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, s: ConvShape, padding = 0): Float64Array {
  const { batch, cin, cout, length, kernel } = s;
  const stride = s.stride ?? 1;
  const lout = convTranspose1dLength(s, padding);
  const y = new Float64Array(batch * cout * lout);
  for (let n = 0; n < batch; n++) for (let co = 0; co < cout; co++) for (let j = 0; j < lout; j++) y[(n * cout + co) * lout + j] = b[co];
  for (let n = 0; n < batch; n++) {
    for (let ci = 0; ci < cin; ci++) {
      for (let i = 0; i < length; i++) {
        for (let co = 0; co < cout; co++) {
          for (let k = 0; k < kernel; k++) {
            const j = i * stride + k - padding;
            if (j >= 0 && j < lout) y[(n * cout + co) * lout + j] += x[(n * cin + ci) * length + i] * w[(ci * cout + co) * kernel + k];
          }
        }
      }
    }
  }
  return y;
}

/**
 * PyTorch's GroupNorm over x [batch, channels, length]: per sample and group of channels/groups
 * adjacent channels, the mean and the biased variance; y = (x - mean) / sqrt(var + eps) gamma + beta.
 */
export function groupNormRef(
  x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>,
  batch: number, channels: number, length: number, groups: number, eps = 1e-5,
): Float64Array {
  const y = new Float64Array(batch * channels * length);
  const per = channels / groups;
  const span = per * length;
  for (let n = 0; n < batch; n++) {
    for (let grp = 0; grp < groups; grp++) {
      const base = (n * channels + grp * per) * length;
      let mean = 0;
      for (let i = 0; i < span; i++) mean += x[base + i];
      mean /= span;
      let variance = 0;
      for (let i = 0; i < span; i++) variance += (x[base + i] - mean) ** 2;
      variance /= span;
      const rstd = 1 / Math.sqrt(variance + eps);
      for (let i = 0; i < span; i++) {
        const c = grp * per + Math.floor(i / length);
        y[base + i] = (x[base + i] - mean) * rstd * gamma[c] + beta[c];
      }
    }
  }
  return y;
}

export function addRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v + b[i]);
}

export function mulRef(a: ArrayLike<number>, b: ArrayLike<number>): Float64Array {
  return Float64Array.from(a, (v, i) => v * b[i]);
}

/** SiLU: x sigmoid(x). */
export function siluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => v / (1 + Math.exp(-v)));
}

/** y[n, c, l] = x[n, c, l] + bias[n, c]. */
export function addChannelBiasRef(x: ArrayLike<number>, bias: ArrayLike<number>, batch: number, channels: number, length: number): Float64Array {
  const y = new Float64Array(batch * channels * length);
  for (let i = 0; i < y.length; i++) y[i] = x[i] + bias[Math.floor(i / length)];
  return y;
}

/** torch.cat([a, b], dim=1) for a [batch, ca, length], b [batch, cb, length]. */
export function concatChannelsRef(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, ca: number, cb: number, length: number): Float64Array {
  const y = new Float64Array(batch * (ca + cb) * length);
  let o = 0;
  for (let n = 0; n < batch; n++) {
    for (let i = 0; i < ca * length; i++) y[o++] = a[n * ca * length + i];
    for (let i = 0; i < cb * length; i++) y[o++] = b[n * cb * length + i];
  }
  return y;
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
export function classEmbeddingRef(labels: ArrayLike<number>, w: ArrayLike<number>, b: ArrayLike<number>, rows: number, D: number): Float64Array {
  const y = new Float64Array(labels.length * D);
  for (let n = 0; n < labels.length; n++) {
    const row = labels[n];
    if (!Number.isInteger(row) || row < 0 || row >= rows) throw new Error(`classEmbeddingRef: label ${row} not in [0, ${rows})`);
    for (let d = 0; d < D; d++) y[n * D + d] = w[row * D + d] + b[d];
  }
  return y;
}

/**
 * PyTorch's MSELoss, L1Loss and HuberLoss(delta), all with reduction 'mean' over every element.
 * Huber: d^2 / 2 where |d| < delta, delta (|d| - delta / 2) elsewhere.
 */
export function regressionLossRef(pred: ArrayLike<number>, target: ArrayLike<number>, kind: 'mse' | 'l1' | 'huber', delta = 1): number {
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

/** PyTorch's CrossEntropyLoss (mean over rows) of logits [rows, classes] and integer labels [rows]. */
export function crossEntropyRef(logits: ArrayLike<number>, labels: ArrayLike<number>, rows: number, classes: number): number {
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

export interface AdamRefOptions {
  lr: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

/** Adam's moments and the number of steps taken so far. */
export interface AdamRefState {
  m: Float64Array;
  v: Float64Array;
  step: number;
}

export function adamRefState(n: number): AdamRefState {
  return { m: new Float64Array(n), v: new Float64Array(n), step: 0 };
}

/**
 * One step of PyTorch's Adam (weightDecay 0) or AdamW (decoupled decay), in place on `params`:
 * m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, mhat = m / (1 - b1^k), vhat = v / (1 - b2^k),
 * p -= lr (mhat / (sqrt(vhat) + eps) + wd p) at step k = 1, 2, ...
 */
export function adamRef(params: Float64Array, grads: ArrayLike<number>, state: AdamRefState, o: AdamRefOptions): void {
  const beta1 = o.beta1 ?? 0.9, beta2 = o.beta2 ?? 0.999, eps = o.eps ?? 1e-8, wd = o.weightDecay ?? 0;
  const k = ++state.step;
  for (let i = 0; i < params.length; i++) {
    const g = grads[i];
    state.m[i] = beta1 * state.m[i] + (1 - beta1) * g;
    state.v[i] = beta2 * state.v[i] + (1 - beta2) * g * g;
    const mhat = state.m[i] / (1 - beta1 ** k);
    const vhat = state.v[i] / (1 - beta2 ** k);
    params[i] -= o.lr * (mhat / (Math.sqrt(vhat) + eps) + wd * params[i]);
  }
}
