// Single-head self-attention over the positions of a feature map, as the MNIST UNet uses it:
// from qkv [B, 3C, N] (a 1x1 conv's output, N = H W), out[b, c, i] = sum_j P[b, i, j] v[b, c, j]
// with P[b, i] = softmax_j(q[b, :, i] . k[b, :, j] / sqrt(C)). Five batched matmuls (the blocked
// or tiled matmul of linear.ts, reading q, k and v in place by offset and stride) and a row
// softmax (shaders/softmax.wgsl); the N x N probabilities are kept for the backward pass.
import softmaxCode from '../../../shaders/softmax.wgsl';
import { shaderModule } from '../kernel.js';
import type { Graph, Tensor } from '../graph.js';
import { emitMatmul } from './linear.js';
import { channelView, positiveInt } from './util.js';

const SOFTMAX = shaderModule({
  name: 'softmax',
  source: softmaxCode,
  bindings: { probs: 'read', rows: 'read_write' },
  params: { rows: 'u32', n: 'u32', scale: 'f32' },
});
const SOFTMAX_FORWARD = SOFTMAX.kernel('softmax_rows', { uses: ['rows'] });
const SOFTMAX_BACKWARD = SOFTMAX.kernel('softmax_rows_backward');

/** qkv [B, 3C, N] or [B, 3C, H, W] -> [B, C, N] or [B, C, H, W]. */
export function attention(g: Graph, qkv: Tensor, name = 'attention'): Tensor {
  if (qkv.shape.length < 3 || qkv.shape[1] % 3 !== 0)
    throw new Error(`${name}: qkv ${qkv} must be [batch, 3 channels, positions] or [batch, 3 channels, height, width]`);
  const [B, C3, N] = channelView(qkv, name);
  const C = positiveInt(C3 / 3, `${name} channels`);
  const scale = 1 / Math.sqrt(C);
  const out = g.activation(name, [B, C, ...qkv.shape.slice(2)]);
  let probs: Tensor | null = null; // P [B, N, N], written by the forward, read by the backward
  const sb = C3 * N; // one image of qkv
  const [q, k, v] = [0, C * N, 2 * C * N]; // where q, k and v start in an image
  const rowParams = { rows: B * N, n: N, scale };
  g.add({
    type: 'attention',
    inputs: [qkv],
    outputs: [out],
    forward(e) {
      const P = (probs = e.scratch(`${name}.probs`, [B, N, N]));
      // S[b, i, j] = sum_c q[b, c, i] k[b, c, j], then P = softmax(S / sqrt(C)) in place
      emitMatmul(
        e,
        qkv,
        qkv,
        P,
        { m: N, n: N, k: C, batch: B, a: { sm: 1, sk: N, sb, off: q }, b: { sk: N, sn: 1, sb, off: k } },
        0,
      );
      e.dispatch(SOFTMAX_FORWARD, { rows: P }, rowParams, B * N);
      // out[b, c, i] = sum_j v[b, c, j] P[b, i, j]
      emitMatmul(
        e,
        qkv,
        P,
        out,
        { m: C, n: N, k: N, batch: B, a: { sm: N, sk: 1, sb, off: v }, b: { sk: 1, sn: N, sb: N * N } },
        0,
      );
    },
    backward(e) {
      const dqkv = e.gradTarget(qkv);
      if (!dqkv) return;
      const dout = e.grad(out);
      const P = probs!;
      const acc = dqkv.accumulate;
      const dc = { sm: N, sn: 1, sb }; // q, k or v's part of dqkv
      // dv[b, c, j] = sum_i dout[b, c, i] P[b, i, j]
      emitMatmul(
        e,
        dout,
        P,
        dqkv.tensor,
        {
          m: C,
          n: N,
          k: N,
          batch: B,
          a: { sm: N, sk: 1, sb: C * N },
          b: { sk: N, sn: 1, sb: N * N },
          c: { ...dc, off: v },
        },
        acc,
      );
      // dP[b, i, j] = sum_c dout[b, c, i] v[b, c, j], then dS = P (dP - rowsum(P dP)) / sqrt(C)
      const ds = e.scratch(`${name}.ds`, [B, N, N]);
      emitMatmul(
        e,
        dout,
        qkv,
        ds,
        { m: N, n: N, k: C, batch: B, a: { sm: 1, sk: N, sb: C * N }, b: { sk: N, sn: 1, sb, off: v } },
        0,
      );
      e.dispatch(SOFTMAX_BACKWARD, { probs: P, rows: ds }, rowParams, B * N);
      // dq[b, c, i] = sum_j k[b, c, j] dS[b, i, j]; dk[b, c, j] = sum_i q[b, c, i] dS[b, i, j]
      emitMatmul(
        e,
        qkv,
        ds,
        dqkv.tensor,
        {
          m: C,
          n: N,
          k: N,
          batch: B,
          a: { sm: N, sk: 1, sb, off: k },
          b: { sk: 1, sn: N, sb: N * N },
          c: { ...dc, off: q },
        },
        acc,
      );
      emitMatmul(
        e,
        qkv,
        ds,
        dqkv.tensor,
        {
          m: C,
          n: N,
          k: N,
          batch: B,
          a: { sm: N, sk: 1, sb, off: q },
          b: { sk: N, sn: 1, sb: N * N },
          c: { ...dc, off: k },
        },
        acc,
      );
    },
  });
  return out;
}
