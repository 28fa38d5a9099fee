// Single-head self-attention over the positions of a feature map, as the MNIST UNet uses it:
// from qkv [B, 3C, N] (a 1x1 conv's output, N = H W), out[b, c, i] = sum_j P[b, i, j] v[b, c, j]
// with P[b, i] = softmax_j(q[b, :, i] . k[b, :, j] / sqrt(C)); the N x N probabilities are kept
// for the backward pass. Up to MAX_FUSED_POSITIONS positions (the UNet's 7x7 map has 49), one
// kernel each way (shaders/attention.wgsl: one workgroup per image, the scores in workgroup
// memory); otherwise, and as the reference the fused kernels are tested against, five batched
// matmuls (the blocked or tiled matmul of linear.ts, reading q, k and v in place by offset and
// stride) and a row softmax (shaders/softmax.wgsl).
import attentionCode from '../../../shaders/attention.wgsl';
import plainCode from '../../../shaders/attention_plain.wgsl';
import subgroupCode from '../../../shaders/attention_sg.wgsl';
import softmaxCode from '../../../shaders/softmax.wgsl';
import spreadCode from '../../../shaders/spread.wgsl';
import tileCode from '../../../shaders/tile.wgsl';
import { shaderModule } from '../kernel.js';
import type { Emitter, GradTarget, Graph, Tensor } from '../graph.js';
import { emitMatmul } from './linear.js';
import { channelView, positiveInt } from './util.js';

/**
 * The most positions the fused kernels take: a unit of 8 lanes with 8 columns each spans them,
 * and their N x N scores fill 16 KiB of workgroup memory, WebGPU's default limit.
 */
export const MAX_FUSED_POSITIONS = 64;

const FUSED = shaderModule({
  name: 'attention',
  source: attentionCode,
  libraries: [tileCode],
  bindings: { qkv: 'read', probs: 'read', dout: 'read', out: 'read_write', probs_out: 'read_write' },
  params: { batch: 'u32', channels: 'u32', positions: 'u32', scale: 'f32', accumulate: 'u32' },
  constants: { NMAX: MAX_FUSED_POSITIONS },
});
// With subgroups of 8 (sg) a workgroup is one unit of 8 lanes, one SIMD batch of a CPU driver,
// that shares each row value by broadcasts and takes the softmax in registers
// (shaders/attention_sg.wgsl); without (plain, attention_plain.wgsl), eight units (64
// invocations, two warps of a GPU) read every row value themselves and take the softmax one row
// per lane.
function fusedKernels(sg: boolean) {
  const o = {
    workgroupSize: sg ? 8 : 64,
    tag: sg ? '_sg' : '',
    libraries: sg ? [spreadCode, subgroupCode] : [plainCode],
    enable: sg ? ['subgroups'] : [],
    // the block loops run per unit, which WGSL cannot see is the whole subgroup
    diagnostics: sg ? ['off, subgroup_uniformity'] : [],
  };
  return {
    forward: FUSED.kernel('forward', { ...o, uses: ['qkv', 'out', 'probs_out'] }),
    backward: FUSED.kernel('backward', { ...o, uses: ['qkv', 'probs', 'dout', 'out'] }),
  };
}
const FUSED_KERNELS = { sg: fusedKernels(true), plain: fusedKernels(false) };

const SOFTMAX = shaderModule({
  name: 'softmax',
  source: softmaxCode,
  bindings: { probs: 'read', rows: 'read_write' },
  params: { rows: 'u32', n: 'u32', scale: 'f32' },
});
const SOFTMAX_FORWARD = SOFTMAX.kernel('softmax_rows', { uses: ['rows'] });
const SOFTMAX_BACKWARD = SOFTMAX.kernel('softmax_rows_backward');

export interface AttentionOptions {
  /**
   * One kernel each way (default where N <= MAX_FUSED_POSITIONS), or five matmuls and a softmax
   * (false; the default above that).
   */
  fused?: boolean;
}

/** The sizes both paths work with: qkv [B, 3C, N], scores scaled by 1 / sqrt(C). */
interface Shape {
  B: number;
  C: number;
  N: number;
  scale: number;
}

/** qkv [B, 3C, N] or [B, 3C, H, W] -> [B, C, N] or [B, C, H, W]. */
export function attention(g: Graph, qkv: Tensor, name = 'attention', o: AttentionOptions = {}): Tensor {
  if (qkv.shape.length < 3 || qkv.shape[1] % 3 !== 0)
    throw new Error(`${name}: qkv ${qkv} must be [batch, 3 channels, positions] or [batch, 3 channels, height, width]`);
  const [B, C3, N] = channelView(qkv, name);
  const C = positiveInt(C3 / 3, `${name} channels`);
  const fused = o.fused ?? N <= MAX_FUSED_POSITIONS;
  if (fused && N > MAX_FUSED_POSITIONS)
    throw new Error(
      `${name}: the fused attention kernels take at most ${MAX_FUSED_POSITIONS} positions, got N = ${N} (use fused: false)`,
    );
  const s: Shape = { B, C, N, scale: 1 / Math.sqrt(C) };
  const out = g.activation(name, [B, C, ...qkv.shape.slice(2)]);
  let probs: Tensor | null = null; // P [B, N, N], written by the forward, read by the backward
  g.add({
    type: 'attention',
    inputs: [qkv],
    outputs: [out],
    forward(e) {
      probs = e.scratch(`${name}.probs`, [B, N, N]);
      (fused ? fusedForward : matmulForward)(e, qkv, out, probs, s);
    },
    backward(e) {
      const dqkv = e.gradTarget(qkv);
      if (dqkv) (fused ? fusedBackward : matmulBackward)(e, qkv, probs!, e.grad(out), dqkv, s, name);
    },
  });
  return out;
}

// One workgroup per image.
function fusedParams(s: Shape, accumulate: number) {
  return { batch: s.B, channels: s.C, positions: s.N, scale: s.scale, accumulate };
}

function fusedForward(e: Emitter, qkv: Tensor, out: Tensor, P: Tensor, s: Shape): void {
  const k = FUSED_KERNELS[e.config.broadcasts ? 'sg' : 'plain'].forward;
  e.dispatch(k, { qkv, out, probs_out: P }, fusedParams(s, 0), s.B * k.workgroupSize);
}

function fusedBackward(e: Emitter, qkv: Tensor, P: Tensor, dout: Tensor, dqkv: GradTarget, s: Shape): void {
  const k = FUSED_KERNELS[e.config.broadcasts ? 'sg' : 'plain'].backward;
  e.dispatch(k, { qkv, probs: P, dout, out: dqkv.tensor }, fusedParams(s, dqkv.accumulate), s.B * k.workgroupSize);
}

function matmulForward(e: Emitter, qkv: Tensor, out: Tensor, P: Tensor, { B, C, N, scale }: Shape): void {
  const sb = 3 * C * N; // one image of qkv
  const [q, k, v] = [0, C * N, 2 * C * N]; // where q, k and v start in an image
  // S[b, i, j] = sum_c q[b, c, i] k[b, c, j], then P = softmax(S / sqrt(C)) in place
  emitMatmul(
    e,
    qkv,
    qkv,
    P,
    { m: N, n: N, k: C, batch: B, a: { sm: 1, sk: N, sb, off: q }, b: { sk: N, sn: 1, sb, off: k } },
    0,
  );
  e.dispatch(SOFTMAX_FORWARD, { rows: P }, { rows: B * N, n: N, scale }, B * N);
  // out[b, c, i] = sum_j v[b, c, j] P[b, i, j]
  emitMatmul(
    e,
    qkv,
    P,
    out,
    { m: C, n: N, k: N, batch: B, a: { sm: N, sk: 1, sb, off: v }, b: { sk: 1, sn: N, sb: N * N } },
    0,
  );
}

function matmulBackward(
  e: Emitter,
  qkv: Tensor,
  P: Tensor,
  dout: Tensor,
  dqkv: GradTarget,
  { B, C, N, scale }: Shape,
  name: string,
): void {
  const sb = 3 * C * N;
  const [q, k, v] = [0, C * N, 2 * C * N];
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
  e.dispatch(SOFTMAX_BACKWARD, { probs: P, rows: ds }, { rows: B * N, n: N, scale }, B * N);
  // dq[b, c, i] = sum_j k[b, c, j] dS[b, i, j]; dk[b, c, j] = sum_i q[b, c, i] dS[b, i, j]: qkv's
  // part at `from` times dS, as stored or transposed, into dqkv's part at `to`
  const timesDs = (from: number, to: number, dsStrides: { sk: number; sn: number }) =>
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
        a: { sm: N, sk: 1, sb, off: from },
        b: { ...dsStrides, sb: N * N },
        c: { ...dc, off: to },
      },
      acc,
    );
  timesDs(k, q, { sk: 1, sn: N });
  timesDs(q, k, { sk: N, sn: 1 });
}
