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
