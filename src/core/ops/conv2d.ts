// Conv2d and ConvTranspose2d (square stride, zero padding per axis), with backward: three
// implicit-GEMM kernels (shaders/conv2d.wgsl) serve both ops with the roles of their operands
// exchanged.
import convCode from '../../../shaders/conv2d.wgsl';
import tileCode from '../../../shaders/tile.wgsl';
import rowsCode from '../../../shaders/conv2d_rows.wgsl';
import rowsSubgroupCode from '../../../shaders/conv2d_rows_sg.wgsl';
import conv3Code from '../../../shaders/conv3.wgsl';
import conv3UpCode from '../../../shaders/conv3_up.wgsl';
import spreadCode from '../../../shaders/spread.wgsl';
import { shaderModule } from '../kernel.js';
import { expectShape, type Emitter, type Graph, type Tensor } from '../graph.js';
import { emitSumBatchLength, nonNegativeInt, positiveInt } from './util.js';
import { emitTransposed } from './linear.js';
import { emitUpsample2x, emitUpsample2xBackward } from './upsample.js';

/** Invocations per workgroup: one SIMD batch of a CPU driver, as the blocked matmul. */
const WG = 8;
/**
 * The plain kernels' workgroup (no subgroup broadcasts, so any size works): 64, two warps of a
 * GPU, where 8 would leave three quarters of each warp idle. Not yet measured on hardware.
 */
const PLAIN_WG = 64;
/** Rows x columns of outputs one invocation computes. */
const TILE = [8, 8] as const;
const CONV2D = shaderModule({
  name: 'conv2d',
  source: convCode,
  libraries: [tileCode],
  bindings: {
    rows_src: 'read', // indexed by (row, inner): w, or dy for the weight gradient
    cols_src: 'read', // gathered by (inner, column): x, or dy for the input gradient
    out: 'read_write',
    bias: 'read',
    rows4: 'read vec4f', // the plain kernels' weight, transposed: [inner, rows_pad]
  },
  params: {
    batch: 'u32',
    cin: 'u32',
    cout: 'u32',
    h: 'u32',
    w: 'u32',
    ho: 'u32',
    wo: 'u32',
    kh: 'u32',
    kw: 'u32',
    stride: 'u32',
    pad_y: 'u32',
    pad_x: 'u32',
    accumulate: 'u32',
    rows_pad: 'u32', // rows4's row length: the rows rounded up to a whole tile
    w_co: 'u32', // the weight's elements per output channel (its input channels x KH x KW)
    w_off: 'u32', // where this slice of input channels starts in a weight row
    k_chunk: 'u32', // the weight gradient's inner indices (b, oy, ox) per workgroup z
    chunks: 'u32', // and how many slabs of partial sums conv2d_weight_grad_sum adds
  },
});
// The plain kernels read the forward's and input gradient's weight from the transposed copy
// (shaders/conv2d_rows.wgsl); with subgroup broadcasts (sg, conv2d_rows_sg.wgsl) every kernel
// reads its rows from rows_src.
const kernels = <W extends 'rows_src' | 'rows4'>(weights: W) => {
  const sg = weights === 'rows_src';
  const o = {
    workgroupSize: sg ? WG : PLAIN_WG,
    tag: sg ? '_sg' : '',
    libraries: sg ? [spreadCode, rowsSubgroupCode] : [rowsCode],
    enable: sg ? ['subgroups'] : [],
  };
  return {
    forward: CONV2D.kernel('conv2d_forward', { ...o, uses: [weights, 'cols_src', 'out', 'bias'] }),
    forwardNoBias: CONV2D.kernel('conv2d_forward_nobias', { ...o, uses: [weights, 'cols_src', 'out'] }),
    inputGrad: CONV2D.kernel('conv2d_input_grad', { ...o, uses: [weights, 'cols_src', 'out'] }),
    inputGradStrided: CONV2D.kernel('conv2d_input_grad_strided', { ...o, uses: [weights, 'cols_src', 'out'] }),
    transposeForward: CONV2D.kernel('conv_transpose2d_forward', { ...o, uses: [weights, 'cols_src', 'out', 'bias'] }),
    weightGrad: CONV2D.kernel('conv2d_weight_grad', { ...o, uses: ['rows_src', 'cols_src', 'out'] }),
  };
};
const WEIGHT_GRAD_SUM = CONV2D.kernel('conv2d_weight_grad_sum', {
  workgroupSize: PLAIN_WG,
  libraries: [rowsCode], // the module's other entry points call into it
  uses: ['cols_src', 'out'],
});
/**
 * The split of the weight gradient's sum over (b, oy, ox) with workgroup reductions (hardware
 * adapters): enough chunks to give about SPLIT_LANES invocations work, each chunk at least
 * SPLIT_MIN terms long.
 */
const SPLIT_LANES = 16384;
const SPLIT_MIN = 256;
const KERNELS = { plain: kernels('rows4'), sg: kernels('rows_src') };

// 3x3 stride-1 convs by row segments (shaders/conv3.wgsl), where the device has subgroups of 8:
// the forward and the input gradient as one correlation kernel with the weight read through
// signed strides, and the weight gradient with one input channel per lane.
const CONV3_PARAMS = {
  batch: 'u32',
  rows: 'u32',
  channels: 'u32',
  h: 'u32',
  w: 'u32',
  ho: 'u32',
  wo: 'u32',
  pad_y: 'u32',
  pad_x: 'u32',
  sr: 'i32',
  sc: 'i32',
  sky: 'i32',
  skx: 'i32',
  w0: 'i32',
  accumulate: 'u32',
} as const;
const CONV3 = shaderModule({
  name: 'conv3',
  source: conv3Code,
  libraries: [spreadCode, conv3UpCode],
  enable: ['subgroups'],
  bindings: { wsrc: 'read', src: 'read', out: 'read_write', bias: 'read' },
  params: CONV3_PARAMS,
});
const CONV3_KERNELS = {
  rows: CONV3.kernel('conv3_rows', { workgroupSize: WG, uses: ['wsrc', 'src', 'out'] }),
  rowsBias: CONV3.kernel('conv3_rows_bias', { workgroupSize: WG }),
  weightGrad: CONV3.kernel('conv3_weight_grad', { workgroupSize: WG, uses: ['wsrc', 'src', 'out'] }),
  // The 3x3 conv of a 2x upsampled input by its four parities' folded 2x2 kernels (shaders/conv3_up.wgsl).
  upRows: CONV3.kernel('conv3_up_rows', { workgroupSize: WG }),
  upInputGrad: CONV3.kernel('conv3_up_input_grad', { workgroupSize: WG, uses: ['wsrc', 'src', 'out'] }),
  upWeightGrad: CONV3.kernel('conv3_up_weight_grad', { workgroupSize: WG, uses: ['wsrc', 'src', 'out'] }),
};
/** Output pixels per invocation along a row in conv3.wgsl (SEG). */
const SEG = 7;
/** Input channels at which the weight gradient by row segments (one per lane) fills a subgroup. */
const CONV3_MIN_LANES = 8;

/** Whether conv3.wgsl serves this geometry: a 3x3 stride-1 conv on a device with broadcasts. */
const conv3Fits = (e: Emitter, s: Geometry) =>
  e.config.broadcasts && s.kh === 3 && s.kw === 3 && s.stride === 1 && s.padY <= 2 && s.padX <= 2;

/** conv3_rows(_bias): p, the correlation's geometry and weight strides (all of CONV3's params but accumulate). */
function emitConv3Rows(
  e: Emitter,
  p: Record<Exclude<keyof typeof CONV3_PARAMS, 'accumulate'>, number>,
  io: { wsrc: Tensor; src: Tensor; out: Tensor },
  bias: Tensor | null,
  accumulate: number,
  name: string,
): void {
  // One segment of SEG output pixels per lane.
  const workgroups = { workgroups: grid(p.rows, p.batch * p.ho * Math.ceil(p.wo / SEG) * TILE[1], name) };
  if (bias) e.dispatch(CONV3_KERNELS.rowsBias, { ...io, bias }, { ...p, accumulate }, workgroups);
  else e.dispatch(CONV3_KERNELS.rows, io, { ...p, accumulate }, workgroups);
}
/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension. */
const MAX_WORKGROUPS = 65535;

export interface Conv2dOptions {
  stride?: number;
  /** Zero padding: one number for every side, or [rows, columns]. */
  padding?: number | [number, number];
}

/**
 * The forward conv's geometry, which every kernel of conv2d.wgsl takes. The weight may be wider
 * than cin: w [cout, wcin, kh, kw], of which input channels ci0 .. ci0 + cin meet this x (one part
 * of a conv of channel-concatenated inputs).
 */
interface Geometry {
  batch: number;
  cin: number;
  cout: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  stride: number;
  padY: number;
  padX: number;
  wcin: number;
  ci0: number;
}

const params = (s: Geometry, accumulate: number, rowsPad = 0, kChunk = s.batch * s.ho * s.wo, chunks = 1) => ({
  batch: s.batch,
  cin: s.cin,
  cout: s.cout,
  h: s.h,
  w: s.w,
  ho: s.ho,
  wo: s.wo,
  kh: s.kh,
  kw: s.kw,
  stride: s.stride,
  pad_y: s.padY,
  pad_x: s.padX,
  accumulate,
  rows_pad: rowsPad,
  w_co: s.wcin * s.kh * s.kw,
  w_off: s.ci0 * s.kh * s.kw,
  k_chunk: kChunk,
  chunks,
});

/**
 * The weight's slice viewed as [outer, rows, inner] (strides sm, sb; off: where it starts), copied
 * as [outer, inner, rowsPad]: the layout the forward (rows cout, inner (ci, ky, kx)) and the input
 * gradient (outer co, rows ci, inner (ky, kx)) read as vec4s. rowsPad: rows rounded up to a whole tile.
 */
function transposedWeight(
  e: Emitter,
  w: Tensor,
  outer: number,
  rows: number,
  inner: number,
  at: { sm: number; sb: number; off: number },
): { wt: Tensor; rowsPad: number } {
  const rowsPad = Math.ceil(rows / TILE[0]) * TILE[0];
  const wt = emitTransposed(e, w, rows, inner, outer, { ...at, sk: 1 }, rowsPad);
  return { wt, rowsPad };
}

/** Workgroups for rows x columns outputs, each invocation TILE of them, `wg` invocations a workgroup. */
function grid(rows: number, columns: number, name: string, wg = WG): [number, number, number] {
  const x = Math.ceil(columns / (TILE[1] * wg));
  if (x > MAX_WORKGROUPS)
    throw new Error(
      `${name}: ${columns} output columns need ${x} workgroups in x, more than ${MAX_WORKGROUPS}; use a smaller batch`,
    );
  return [x, Math.ceil(rows / TILE[0]), 1];
}

// The three products, in the forward conv's frame (x [B, cin, h, w] -> y [B, cout, ho, wo]).
function emitForward(
  e: Emitter,
  s: Geometry,
  x: Tensor,
  w: Tensor,
  y: Tensor,
  accumulate: number,
  bias: Tensor | null,
  name: string,
): void {
  if (conv3Fits(e, s)) {
    const q = { batch: s.batch, rows: s.cout, channels: s.cin, h: s.h, w: s.w, ho: s.ho, wo: s.wo };
    const p = { ...q, pad_y: s.padY, pad_x: s.padX, sr: s.wcin * 9, sc: 9, sky: 3, skx: 1, w0: s.ci0 * 9 };
    emitConv3Rows(e, p, { wsrc: w, src: x, out: y }, bias, accumulate, name);
    return;
  }
  const wg = e.config.broadcasts ? WG : PLAIN_WG;
  const workgroups = { workgroups: grid(s.cout, s.batch * s.ho * s.wo, name, wg) };
  const io = { cols_src: x, out: y };
  if (e.config.broadcasts) {
    const k = KERNELS.sg;
    if (bias) e.dispatch(k.forward, { rows_src: w, ...io, bias }, params(s, accumulate), workgroups);
    else e.dispatch(k.forwardNoBias, { rows_src: w, ...io }, params(s, accumulate), workgroups);
    return;
  }
  const taps = s.kh * s.kw;
  const at = { sm: s.wcin * taps, sb: 0, off: s.ci0 * taps };
  const { wt, rowsPad } = transposedWeight(e, w, 1, s.cout, s.cin * taps, at);
  const k = KERNELS.plain;
  if (bias) e.dispatch(k.forward, { rows4: wt, ...io, bias }, params(s, accumulate, rowsPad), workgroups);
  else e.dispatch(k.forwardNoBias, { rows4: wt, ...io }, params(s, accumulate, rowsPad), workgroups);
}

function emitInputGrad(
  e: Emitter,
  s: Geometry,
  dy: Tensor,
  w: Tensor,
  dx: Tensor,
  accumulate: number,
  bias: Tensor | null,
  name: string,
): void {
  if (conv3Fits(e, s)) {
    // A correlation of dy with the flipped weight: W(ci, co, ky, kx) = w[co, ci, 2 - ky, 2 - kx].
    const q = { batch: s.batch, rows: s.cin, channels: s.cout, h: s.ho, w: s.wo, ho: s.h, wo: s.w };
    const p = {
      ...q,
      pad_y: 2 - s.padY,
      pad_x: 2 - s.padX,
      sr: 9,
      sc: s.wcin * 9,
      sky: -3,
      skx: -1,
      w0: 8 + s.ci0 * 9,
    };
    emitConv3Rows(e, p, { wsrc: w, src: dy, out: dx }, bias, accumulate, name);
    return;
  }
  const wg = e.config.broadcasts ? WG : PLAIN_WG;
  // Strided, by parity classes (workgroups z) over their own pixels and taps; else every pixel, every tap.
  const strided = s.stride > 1 && !bias;
  const [cx, cy] = grid(
    s.cin,
    s.batch * (strided ? Math.ceil(s.h / s.stride) * Math.ceil(s.w / s.stride) : s.h * s.w),
    name,
    wg,
  );
  const workgroups = { workgroups: [cx, cy, strided ? s.stride * s.stride : 1] as [number, number, number] };
  const io = { cols_src: dy, out: dx };
  if (e.config.broadcasts) {
    const k = KERNELS.sg;
    if (bias) e.dispatch(k.transposeForward, { rows_src: w, ...io, bias }, params(s, accumulate), workgroups);
    else
      e.dispatch(strided ? k.inputGradStrided : k.inputGrad, { rows_src: w, ...io }, params(s, accumulate), workgroups);
    return;
  }
  const taps = s.kh * s.kw;
  const at = { sm: taps, sb: s.wcin * taps, off: s.ci0 * taps };
  const { wt, rowsPad } = transposedWeight(e, w, s.cout, s.cin, taps, at);
  const k = KERNELS.plain;
  if (bias) e.dispatch(k.transposeForward, { rows4: wt, ...io, bias }, params(s, accumulate, rowsPad), workgroups);
  else
    e.dispatch(
      strided ? k.inputGradStrided : k.inputGrad,
      { rows4: wt, ...io },
      params(s, accumulate, rowsPad),
      workgroups,
    );
}

function emitWeightGrad(
  e: Emitter,
  s: Geometry,
  dy: Tensor,
  x: Tensor,
  dw: Tensor,
  accumulate: number,
  name: string,
): void {
  if (conv3Fits(e, s) && s.cin >= CONV3_MIN_LANES) {
    const q = { batch: s.batch, rows: s.cout, channels: s.cin, h: s.h, w: s.w, ho: s.ho, wo: s.wo };
    // dw[co, ci0 + ci, ky, kx] at co sr + ci 9 + 3 ky + kx + w0
    const p = { ...q, pad_y: s.padY, pad_x: s.padX, sr: s.wcin * 9, sc: 0, sky: 0, skx: 0, w0: s.ci0 * 9, accumulate };
    e.dispatch(CONV3_KERNELS.weightGrad, { wsrc: dy, src: x, out: dw }, p, {
      workgroups: grid(s.cout, s.cin * TILE[1], name), // one input channel per lane
    });
    return;
  }
  const k = e.config.broadcasts ? KERNELS.sg.weightGrad : KERNELS.plain.weightGrad;
  const n = s.cin * s.kh * s.kw;
  const [x0, y0] = grid(s.cout, n, name, e.config.broadcasts ? WG : PLAIN_WG);
  const total = s.batch * s.ho * s.wo;
  const lanes = Math.ceil(s.cout / TILE[0]) * Math.ceil(n / TILE[1]);
  const want = e.config.reductions === 'workgroup' ? Math.ceil(SPLIT_LANES / lanes) : 1;
  const kChunk = Math.ceil(total / Math.max(1, Math.min(want, Math.floor(total / SPLIT_MIN))));
  const chunks = Math.ceil(total / kChunk);
  if (chunks === 1) {
    e.dispatch(k, { rows_src: dy, cols_src: x, out: dw }, params(s, accumulate), { workgroups: [x0, y0, 1] });
    return;
  }
  // Each chunk's sums into a slab of its own (the slice's own layout), then added up into dw.
  const slabs = e.scratch(`${name}.dw_chunks`, [chunks, s.cout, n]);
  const own = { ...s, wcin: s.cin, ci0: 0 };
  e.dispatch(k, { rows_src: dy, cols_src: x, out: slabs }, params(own, 0, 0, kChunk, chunks), {
    workgroups: [x0, y0, chunks],
  });
  e.dispatch(WEIGHT_GRAD_SUM, { cols_src: slabs, out: dw }, params(s, accumulate, 0, kChunk, chunks), s.cout * n);
}

function shape4(x: Tensor, what: string): [number, number, number, number] {
  if (x.shape.length !== 4) throw new Error(`${what}: input ${x} must be [batch, channels, height, width]`);
  return [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
}

function spacing(o: Conv2dOptions, name: string) {
  const stride = positiveInt(o.stride ?? 1, `${name} stride`);
  const pad = o.padding ?? 0;
  const [padY, padX] = typeof pad === 'number' ? [pad, pad] : pad;
  return {
    stride,
    padY: nonNegativeInt(padY, `${name} padding (rows)`),
    padX: nonNegativeInt(padX, `${name} padding (columns)`),
  };
}

/**
 * y = conv2d(x, w) + b: x [B, Cin, H, W], w [Cout, Cin, KH, KW], b [Cout]; HO = (H + 2 pad - KH) / stride + 1.
 * x may be a list of tensors [B, C_i, H, W] (sum C_i = Cin): the conv of their concatenation along
 * channels, computed one part at a time against its slice of w's input channels and summed in y,
 * so the concatenation is never written (the UNet's skips).
 */
export function conv2d(
  g: Graph,
  x: Tensor | readonly Tensor[],
  w: Tensor,
  b: Tensor,
  options: Conv2dOptions = {},
  name = 'conv2d',
): Tensor {
  const xs = Array.isArray(x) ? (x as readonly Tensor[]) : [x as Tensor];
  if (xs.length === 0) throw new Error(`${name}: no input (expected a tensor or a list of tensors)`);
  const [batch, , h, wd] = shape4(xs[0], name);
  const cins = xs.map((part, i) => {
    const [, c] = shape4(part, name);
    expectShape(part, [batch, c, h, wd], `${name} input ${i}`);
    return c;
  });
  const cin = cins.reduce((u, v) => u + v, 0);
  if (w.shape.length !== 4) throw new Error(`${name}: weight ${w} must be [Cout, Cin, KH, KW]`);
  const [cout, , kh, kw] = w.shape;
  expectShape(w, [cout, cin, kh, kw], `${name} weight`);
  expectShape(b, [cout], `${name} bias`);
  const { stride, padY, padX } = spacing(options, name);
  if (h + 2 * padY < kh || wd + 2 * padX < kw)
    throw new Error(`${name}: kernel ${kh}x${kw} exceeds the padded input ${h + 2 * padY}x${wd + 2 * padX}`);
  const s: Geometry = {
    batch,
    cin,
    cout,
    h,
    w: wd,
    ho: Math.floor((h + 2 * padY - kh) / stride) + 1,
    wo: Math.floor((wd + 2 * padX - kw) / stride) + 1,
    kh,
    kw,
    stride,
    padY,
    padX,
    wcin: cin,
    ci0: 0,
  };
  let ci0 = 0;
  const parts = xs.map((part, i) => {
    const at = { x: part, s: { ...s, cin: cins[i], ci0 } };
    ci0 += cins[i];
    return at;
  });
  return addConvOp(g, 'conv2d', name, parts, w, b, s, false);
}

/**
 * y = conv2d(upsample2x(x), w) + b, 3x3 with padding 1 (the UNet decoder's upsampling, then conv):
 * x [B, Cin, H, W], w [Cout, Cin, 3, 3], b [Cout] -> [B, Cout, 2H, 2W]. Where the device has
 * subgroup broadcasts the upsampled map is never written: each output parity's 3x3 kernel folds
 * into a 2x2 one over x (shaders/conv3_up.wgsl), 4 multiply-adds per output and input channel
 * where the conv of the upsampled map makes 9, in all three products. Elsewhere the upsampled map
 * is a scratch tensor that the conv's kernels read.
 */
export function upsampleConv2d(g: Graph, x: Tensor, w: Tensor, b: Tensor, name = 'upsample_conv2d'): Tensor {
  const [batch, cin, h, wd] = shape4(x, name);
  if (w.shape.length !== 4) throw new Error(`${name}: weight ${w} must be [Cout, Cin, 3, 3]`);
  const cout = w.shape[0];
  expectShape(w, [cout, cin, 3, 3], `${name} weight`);
  expectShape(b, [cout], `${name} bias`);
  const [h2, w2] = [2 * h, 2 * wd];
  const y = g.activation(name, [batch, cout, h2, w2]);
  // The conv of the upsampled map, for the kernels without broadcasts.
  const s: Geometry = {
    batch,
    cin,
    cout,
    h: h2,
    w: w2,
    ho: h2,
    wo: w2,
    kh: 3,
    kw: 3,
    stride: 1,
    padY: 1,
    padX: 1,
    wcin: cin,
    ci0: 0,
  };
  const upsampled = (e: Emitter) => {
    const up = e.scratch(`${name}.upsampled`, [batch, cin, h2, w2]);
    emitUpsample2x(e, x, up);
    return up;
  };
  // conv3_up's grid: segments of the low-resolution map; rows cout (forward, weight gradient) or cin.
  const low = { batch, channels: cin, h, w: wd, ho: h, wo: wd, pad_y: 0, pad_x: 0, sky: 3, skx: 1, w0: 0 };
  const segments = batch * h * Math.ceil(wd / SEG) * TILE[1];
  g.add({
    type: 'upsample_conv2d',
    inputs: [x, w, b],
    outputs: [y],
    forward(e) {
      if (!e.config.broadcasts) return emitForward(e, s, upsampled(e), w, y, 0, b, name);
      const [gx, gy] = grid(cout, segments, name);
      const p = { ...low, rows: cout, sr: cin * 9, sc: 9, accumulate: 0 };
      e.dispatch(CONV3_KERNELS.upRows, { wsrc: w, src: x, out: y, bias: b }, p, { workgroups: [gx, gy, 4] });
    },
    backward(e) {
      const dy = e.grad(y);
      const dx = e.gradTarget(x);
      const dw = e.gradTarget(w);
      if (!e.config.broadcasts) {
        if (dx) {
          const dup = e.scratch(`${name}.upsampled_grad`, [batch, cin, h2, w2]);
          emitInputGrad(e, s, dy, w, dup, 0, null, name);
          emitUpsample2xBackward(e, dup, dx.tensor, dx.accumulate);
        }
        if (dw) emitWeightGrad(e, s, dy, upsampled(e), dw.tensor, dw.accumulate, name);
      } else {
        if (dx) {
          const p = { ...low, rows: cin, channels: cout, sr: 9, sc: cin * 9, accumulate: dx.accumulate };
          e.dispatch(CONV3_KERNELS.upInputGrad, { wsrc: w, src: dy, out: dx.tensor }, p, {
            workgroups: grid(cin, segments, name),
          });
        }
        if (dw) {
          const p = { ...low, rows: cout, sr: cin * 9, sc: 0, accumulate: dw.accumulate };
          e.dispatch(CONV3_KERNELS.upWeightGrad, { wsrc: dy, src: x, out: dw.tensor }, p, {
            workgroups: grid(cout, cin * TILE[1], name), // one input channel per lane
          });
        }
      }
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, batch, cout, h2 * w2);
    },
  });
  return y;
}

/**
 * y = convTranspose2d(x, w) + b: x [B, Cin, H, W], w [Cin, Cout, KH, KW], b [Cout];
 * HO = (H - 1) stride - 2 pad + KH (PyTorch's ConvTranspose2d without output padding).
 */
export function convTranspose2d(
  g: Graph,
  x: Tensor,
  w: Tensor,
  b: Tensor,
  options: Conv2dOptions = {},
  name = 'conv_transpose2d',
): Tensor {
  const [batch, cin, h, wd] = shape4(x, name);
  if (w.shape.length !== 4) throw new Error(`${name}: weight ${w} must be [Cin, Cout, KH, KW]`);
  const [, cout, kh, kw] = w.shape;
  expectShape(w, [cin, cout, kh, kw], `${name} weight`);
  expectShape(b, [cout], `${name} bias`);
  const { stride, padY, padX } = spacing(options, name);
  const [ho, wo] = [(h - 1) * stride - 2 * padY + kh, (wd - 1) * stride - 2 * padX + kw];
  if (ho <= 0 || wo <= 0)
    throw new Error(
      `${name}: output ${ho}x${wo} is empty (input ${h}x${wd}, kernel ${kh}x${kw}, stride ${stride}, padding ${padY}, ${padX})`,
    );
  // The conv whose input gradient this is: input y [B, cout, ho, wo], output x [B, cin, h, w].
  const s: Geometry = {
    batch,
    cin: cout,
    cout: cin,
    h: ho,
    w: wo,
    ho: h,
    wo: wd,
    kh,
    kw,
    stride,
    padY,
    padX,
    wcin: cout,
    ci0: 0,
  };
  return addConvOp(g, 'conv_transpose2d', name, [{ x, s }], w, b, s, true);
}

/**
 * The op of a conv (x: its input, y: its output) or of its transposed form (x shaped as the
 * conv's output, y as its input), in the conv's geometry s: the forward of one is the input
 * gradient of the other, and the weight gradient takes x and dy in exchanged roles. A conv's
 * input may come in parts (each with its geometry: its channels and where they start in w), summed
 * into y one after the other; the bias goes with the first.
 */
function addConvOp(
  g: Graph,
  type: string,
  name: string,
  parts: readonly { x: Tensor; s: Geometry }[],
  w: Tensor,
  b: Tensor,
  s: Geometry,
  transposed: boolean,
): Tensor {
  const [channels, height, width] = transposed ? [s.cin, s.h, s.w] : [s.cout, s.ho, s.wo];
  const y = g.activation(name, [s.batch, channels, height, width]);
  type Emit = (e: Emitter, q: Geometry, from: Tensor, to: Tensor, accumulate: number, bias: Tensor | null) => void;
  const toOutput: Emit = (e, q, from, to, accumulate, bias) => emitForward(e, q, from, w, to, accumulate, bias, name);
  const toInput: Emit = (e, q, from, to, accumulate, bias) => emitInputGrad(e, q, from, w, to, accumulate, bias, name);
  const [forward, backward] = transposed ? [toInput, toOutput] : [toOutput, toInput];
  g.add({
    type,
    inputs: [...parts.map((part) => part.x), w, b],
    outputs: [y],
    forward(e) {
      parts.forEach((part, i) => forward(e, part.s, part.x, y, i === 0 ? 0 : 1, i === 0 ? b : null));
    },
    backward(e) {
      const dy = e.grad(y);
      for (const part of parts) {
        const dx = e.gradTarget(part.x);
        if (dx) backward(e, part.s, dy, dx.tensor, dx.accumulate, null);
      }
      const dw = e.gradTarget(w);
      if (dw)
        for (const part of parts) {
          const [outputSide, inputSide] = transposed ? [part.x, dy] : [dy, part.x];
          emitWeightGrad(e, part.s, outputSide, inputSide, dw.tensor, dw.accumulate, name);
        }
      const db = e.gradTarget(b);
      if (db) emitSumBatchLength(e, dy, db, s.batch, channels, height * width);
    },
  });
  return y;
}
